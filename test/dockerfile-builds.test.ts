/**
 * Dockerfile builds through the container engine's build API (Podman's Docker-compatible service): a combined
 * service with `buildSettings.dockerfile` builds its repository's Dockerfile with its build arguments, runs
 * the image tagged with the build id, and a broken Dockerfile fails the build with the engine's message
 * while the running release keeps serving. The process runtime still refuses such a service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { buildConformanceImage, startPodman } from './support/podman.ts';
import { DockerfileBuilder, imageTag } from '../src/builds/docker-build.ts';

const podman = await startPodman();
const { docker, dockerHost } = podman;
after(() => podman.stop());

/** Every image whose tags start with `prefix`, removed with what only it used. */
async function removeImages(prefix: string): Promise<void> {
  for (const img of await docker.listImages()) {
    if ((img.RepoTags ?? []).some((t) => t.startsWith(prefix))) await docker.getImage(img.Id).remove({ force: true }).catch(() => {});
  }
}

interface BuildView {
  id: string;
  sha: string;
  status: string;
  success?: boolean;
  message?: string;
}

describe('Dockerfile builds on the docker runtime', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('dockerfile-app');
  const builds = async (): Promise<BuildView[]> => (await api(p, 'GET', '/v1/projects/dfb/services/web/build')).body.data.builds;
  const status = async () => (await api(p, 'GET', '/v1/projects/dfb/services/web')).body.data.status;
  const answer = async () => {
    const r = await viaRouter(p, 'web.dfb.localhost');
    return r.status === 200 ? ((await r.json()) as { env: { A: string | null }; file: string | null }) : undefined;
  };
  let firstBuild: BuildView;

  before(async () => {
    await buildConformanceImage(docker);
    p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: dockerHost });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dfb' })).status, 200);
  });
  after(async () => {
    await p?.stop();
    // Instances outlive the control plane by design: remove this file's containers, then its images.
    for (const c of await docker.listContainers({ all: true, filters: { label: ['slipway.project=dfb'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    await removeImages('localhost/slipway/dfb/');
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('builds the Dockerfile of a subdirectory with the build arguments, tags the image with the build id and runs it', async () => {
    const created = await api(p, 'POST', '/v1/projects/dfb/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { dockerfile: { dockerFilePath: '/docker/Dockerfile', dockerWorkDir: '/docker' } },
      buildArguments: { GREETING: 'hello-from-arg' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));

    firstBuild = await waitFor(async () => (await builds()).find((b) => b.status === 'SUCCESS' || b.status === 'FAILURE'), 120_000, 'the first build to finish');
    const log = (await api(p, 'GET', `/projects/dfb/services/web/builds/${firstBuild.id}/log`)).body as string;
    assert.equal(firstBuild.status, 'SUCCESS', log);
    // The engine's own output, line by line: its steps, and what the RUN printed with the build argument.
    assert.match(log, /STEP 1\/\d+: FROM localhost\/slipway-conformance:test|Step 1\/\d+ : FROM/);
    assert.match(log, /message: copied-from-context hello-from-arg/);
    assert.match(log, /Build arguments: GREETING/);

    const tag = imageTag('dfb', 'web', firstBuild.id);
    assert.equal(tag, `localhost/slipway/dfb/web:${firstBuild.id}`);
    const image = await docker.getImage(tag).inspect();
    assert.ok(image.RepoTags?.includes(tag), `the image is tagged ${tag}: ${image.RepoTags}`);

    await waitFor(async () => (await status()).deployment.status === 'COMPLETED', 120_000, 'the service to reach COMPLETED');
    const body = await waitFor(answer, 60_000, 'an answer through the router');
    // ARG → ENV shows in the app's environment; the file the RUN made from the COPY shows as `file`.
    assert.equal(body.env.A, 'hello-from-arg');
    assert.equal(body.file, 'copied-from-context hello-from-arg');

    const releases = (await api(p, 'GET', '/projects/dfb/services/web/releases')).body.releases as { buildId: string | null; image: string | null }[];
    assert.ok(releases.some((r) => r.image === tag), JSON.stringify(releases));
  });

  it('runs a job from the Dockerfile build: its image, with the job command', async () => {
    const job = await api(p, 'POST', '/v1/projects/dfb/jobs/manual', {
      name: 'from-build',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { internal: { id: 'web', buildId: firstBuild.id } },
      command: 'echo "job sees $A and $(cat /app/message.txt)"',
    });
    assert.equal(job.status, 200, JSON.stringify(job.body));
    const run = await api(p, 'POST', `/v1/projects/dfb/jobs/${job.body.data.id}/runs`, {});
    assert.equal(run.status, 200, JSON.stringify(run.body));
    const done = await waitFor(async () => {
      const r = (await api(p, 'GET', `/v1/projects/dfb/jobs/${job.body.data.id}/runs/${run.body.data.id}`)).body.data;
      return r.concluded ? r : undefined;
    }, 60_000, 'the job run to conclude');
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done));
    const logs = (await api(p, 'GET', `/projects/dfb/jobs/${job.body.data.id}/runs/${run.body.data.id}/logs`)).body.lines as { line: string }[];
    assert.ok(logs.some((l) => l.line === 'job sees hello-from-arg and copied-from-context hello-from-arg'), JSON.stringify(logs));
  });

  it("refuses another project's deployment or job naming this project's built image, naming the field", async () => {
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dfb-other' })).status, 200);
    const tag = imageTag('dfb', 'web', firstBuild.id);
    const svc = await api(p, 'POST', '/v1/projects/dfb-other/services/deployment', {
      name: 'borrower',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1, external: { imagePath: tag } },
    });
    assert.equal(svc.status, 400, JSON.stringify(svc.body));
    assert.match(JSON.stringify(svc.body.error.details), /deployment\.external\.imagePath/);
    const job = await api(p, 'POST', '/v1/projects/dfb-other/jobs/manual', {
      name: 'borrower',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { external: { imagePath: tag } },
    });
    assert.equal(job.status, 400, JSON.stringify(job.body));
    assert.match(JSON.stringify(job.body.error.details), /deployment\.external\.imagePath/);
    // Nothing was stored, and the project that built the image may still deploy it.
    assert.equal((await api(p, 'GET', '/v1/projects/dfb-other/services/borrower')).status, 404);
    const own = await api(p, 'POST', '/v1/projects/dfb/services/deployment', {
      name: 'own-image',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 0, external: { imagePath: tag } },
    });
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  it('fails a broken Dockerfile with the engine error in the log and keeps the running release', async () => {
    const releasesBefore = (await api(p, 'GET', '/projects/dfb/services/web/releases')).body.releases.length;
    const sha = repo.commit('broken', (dir) => fs.appendFileSync(path.join(dir, 'docker/Dockerfile'), 'RUN echo about to fail; exit 3\n'));
    const started = await api(p, 'POST', '/v1/projects/dfb/services/web/build', { sha });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const failed = await waitFor(async () => {
      const b = (await api(p, 'GET', `/v1/projects/dfb/services/web/build/${started.body.data.id}`)).body.data as BuildView;
      return b.status === 'FAILURE' || b.status === 'SUCCESS' ? b : undefined;
    }, 120_000, 'the broken build to finish');
    assert.equal(failed.status, 'FAILURE');
    assert.equal(failed.success, false);
    assert.match(failed.message ?? '', /exit (status|code):? 3/);
    const log = (await api(p, 'GET', `/projects/dfb/services/web/builds/${failed.id}/log`)).body as string;
    assert.match(log, /about to fail/);
    assert.match(log, /Build failed: Dockerfile build failed: .*exit (status|code):? 3/);
    await assert.rejects(docker.getImage(imageTag('dfb', 'web', failed.id)).inspect(), 'no image for a failed build');

    assert.equal((await api(p, 'GET', '/projects/dfb/services/web/releases')).body.releases.length, releasesBefore);
    assert.equal((await status()).deployment.status, 'COMPLETED');
    const body = await answer();
    assert.equal(body?.env.A, 'hello-from-arg', 'the previous release keeps serving');
  });

  it('refuses a Dockerfile path that climbs out of the repository, naming the field', async () => {
    const res = await api(p, 'POST', '/v1/projects/dfb/services/combined', {
      name: 'climber',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { dockerfile: { dockerFilePath: '/../../etc/Dockerfile', dockerWorkDir: '/' } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
    assert.match(JSON.stringify(res.body), /buildSettings\.dockerfile\.dockerFilePath/);
  });
});

describe('the Dockerfile builder', () => {
  const tag = 'localhost/slipway/dfb-unit/svc:build-outside';
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-dockerfile-src-'));
  after(async () => {
    await removeImages('localhost/slipway/dfb-unit/');
    fs.rmSync(src, { recursive: true, force: true });
  });

  it('builds a Dockerfile that lies outside the context, up to the named target, as Docker does', async () => {
    await buildConformanceImage(docker);
    fs.mkdirSync(path.join(src, 'ctx'));
    fs.writeFileSync(path.join(src, 'ctx/data.txt'), 'from-ctx');
    fs.writeFileSync(
      path.join(src, 'Dockerfile.outside'),
      ['FROM localhost/slipway-conformance:test AS first', 'COPY data.txt /app/data.txt', 'ENV A=first', 'FROM first AS second', 'ENV A=second', ''].join('\n'),
    );
    const lines: string[] = [];
    const builder = new DockerfileBuilder({ dockerHost });
    const out = await builder.build({ sourceDir: src, tag, dockerfile: { dockerFilePath: '/Dockerfile.outside', dockerWorkDir: '/ctx', useCache: false }, target: 'first', log: (l) => lines.push(l) });
    assert.equal(out.image, tag);
    const env = (await docker.getImage(tag).inspect()).Config.Env ?? [];
    assert.ok(env.includes('A=first'), `built up to the target only: ${env}`);
    assert.ok(lines.some((l) => /without cache/.test(l)));
  });

  it('refuses a context directory the repository does not have, naming the field', async () => {
    const builder = new DockerfileBuilder({ dockerHost });
    await assert.rejects(builder.build({ sourceDir: src, tag, dockerfile: { dockerFilePath: '/Dockerfile.outside', dockerWorkDir: '/missing' }, log: () => {} }), /buildSettings\.dockerfile\.dockerWorkDir/);
  });
});

describe('Dockerfile builds on the process runtime', () => {
  let p: RunningPlatform;
  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dfp' })).status, 200);
  });
  after(async () => {
    await p?.stop();
  });

  it('refuses a service with buildSettings.dockerfile with a 4xx naming the field', async () => {
    const res = await api(p, 'POST', '/v1/projects/dfp/services/build', {
      name: 'img',
      billing: { deploymentPlan: 'nf-compute-20' },
      vcsData: { projectUrl: ROOT, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { dockerfile: { dockerFilePath: '/Dockerfile', dockerWorkDir: '/' } },
    });
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
    assert.match(JSON.stringify(res.body), /buildSettings\.dockerfile/);
  });
});
