/**
 * Saved registry credentials end to end: a private registry (Debian's docker-registry, htpasswd auth, plain
 * HTTP on 127.0.0.1) holds the conformance image; credentials saved through the unmodified
 * @northflank/js-client let an image deployment pull it on the docker runtime (Podman), with the pull's
 * progress in the rollout's events; wrong credentials fail the rollout clearly while the old release
 * keeps serving; unknown or restricted credentials are refused at deploy time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { api, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { IMAGE, buildConformanceImage, startPodman, type PodmanService } from './support/podman.ts';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.ts';
import { DockerDriver } from '../src/runtime/docker/docker-driver.ts';

const USER = 'deployer';
const PASSWORD = `pw-${process.pid}-Zq9`;
const WRONG_PASSWORD = `not-it-${process.pid}`;

describe('registry credentials and authenticated image pulls (docker runtime)', () => {
  let registry: TestRegistry;
  let podman: PodmanService;
  let p: RunningPlatform;
  let client: ApiClient;
  let repo: string;

  before(async () => {
    registry = await startRegistry({ users: { [USER]: PASSWORD } });
    podman = await startPodman({ insecureRegistries: [registry.address] });
    await buildConformanceImage(podman.docker);
    // Push the conformance image as two tags, then drop both tags from the engine so deploys must pull.
    repo = `${registry.address}/slipway/conformance`;
    const authconfig = { username: USER, password: PASSWORD, serveraddress: registry.address };
    for (const tag of ['v1', 'v2']) await pushImage(podman.docker, IMAGE, repo, tag, authconfig);
    await assert.rejects(podman.docker.getImage(`${repo}:v1`).inspect(), 'the registry-tagged image is not in the engine before the deploy');
    p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: podman.dockerHost });
    client = await northflankClient(p);
  });

  after(async () => {
    await p?.stop();
    if (podman) {
      // Instances outlive the control plane by design: remove this test's containers and pulled images.
      for (const c of await podman.docker.listContainers({ all: true, filters: { label: ['slipway.project=regs'] } })) await podman.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      for (const tag of ['v1', 'v2']) await podman.docker.getImage(`${repo}:${tag}`).remove().catch(() => {});
      await podman.stop();
    }
    await registry?.stop();
  });

  it('saves credentials through the Northflank client and never returns the password', async () => {
    const added = await client.add.registryCredentials({
      data: { name: 'Test Registry', provider: 'custom', registryUrl: registry.address, credentials: { username: USER, password: PASSWORD, scope: { pull: true } } },
    });
    assert.equal(added.error, undefined, JSON.stringify(added.error));
    assert.equal(added.data.id, 'test-registry');
    assert.equal(added.data.credentials?.username, USER);
    assert.equal(added.data.credentials?.password, undefined);
    const got = await client.get.registryCredentials({ parameters: { credentialId: 'test-registry' } });
    assert.equal(got.data.registryUrl, registry.address);
    assert.deepEqual(got.data.restrictions, { restricted: false });
    const list = await client.list.registryCredentials({});
    assert.deepEqual(list.data.credentials.map((c) => c.id), ['test-registry']);
    for (const res of [added, got, list]) assert.ok(!JSON.stringify(res.data).includes(PASSWORD), 'no read carries the password');

    const wrong = await client.add.registryCredentials({
      data: { name: 'Wrong Password', provider: 'custom', registryUrl: registry.address, credentials: { username: USER, password: WRONG_PASSWORD, scope: { pull: true } } },
    });
    assert.equal(wrong.data.id, 'wrong-password');

    // Bad input: a name breaking Northflank's pattern, an unknown provider, a missing password.
    const bad = await api(p, 'POST', '/v1/integrations/registries', { name: '9 lives', provider: 'quay', credentials: { username: 'u', scope: {} } });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.error.details.name && bad.body.error.details.provider, JSON.stringify(bad.body));
    const noPassword = await api(p, 'POST', '/v1/integrations/registries', { name: 'No Password', provider: 'custom', registryUrl: registry.address, credentials: { username: 'u', scope: { pull: true } } });
    assert.equal(noPassword.status, 400);
    assert.ok(noPassword.body.error.details['credentials.password'], JSON.stringify(noPassword.body));
  });

  it('starts an image named by digest, with credentials (driver: the seed\'s imagePath pattern takes no digest after a registry port)', async () => {
    const head = await fetch(`http://${registry.address}/v2/slipway/conformance/manifests/v2`, {
      method: 'HEAD',
      headers: {
        authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
        accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    assert.equal(head.status, 200);
    const digest = head.headers.get('docker-content-digest') ?? '';
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-digest-'));
    const driver = new DockerDriver({ stateDir, dockerHost: podman.dockerHost });
    const id = `regs--digest--web-r1-0-${process.pid.toString(16)}`;
    const progress: string[] = [];
    try {
      const inst = await driver.start(
        { id, labels: { project: 'regs', service: 'digest', release: 'r1', processType: 'web' }, image: `${repo}@${digest}`, registryAuth: { username: USER, password: PASSWORD, serveraddress: registry.address }, command: [], env: {}, files: [], ports: [{ name: 'p01', internalPort: 8080 }] },
        { onProgress: (m) => progress.push(m) },
      );
      // The app serves on its port (without one it would exit at once): the image named by digest runs.
      await waitFor(async () => (await fetch(`http://${inst.endpoints[0].host}:${inst.endpoints[0].port}/`).catch(() => undefined))?.status === 200, 30_000, 'the digest-named image answering');
      // The engine may already hold that manifest (the pushed image is the local conformance image), so a pull
      // is not guaranteed here: either it pulled, or the registry confirmed the credentials before its copy ran.
      assert.ok(progress.some((m) => m.startsWith(`pulled ${repo}@${digest}`) || m.includes(`lets '${USER}' pull ${repo}@${digest}`)), JSON.stringify(progress));
      const info = await podman.docker.getContainer(id).inspect();
      assert.ok((await podman.docker.getImage(info.Image).inspect()).RepoDigests?.some((d) => d.endsWith(digest)));
    } finally {
      await driver.stop(id, 1).catch(() => {});
      // Runs before any deploy pulls the same manifest by tag: leave the engine without it again.
      await podman.docker.getImage(`${repo}@${digest}`).remove().catch(() => {});
      await driver.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('deploys an image from the private registry with saved credentials, with the pull in the rollout events', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'regs' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/regs/services/deployment', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1, external: { imagePath: `${repo}:v1`, credentials: 'test-registry' } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { A: 'from-private-registry' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => {
      const st = (await api(p, 'GET', '/v1/projects/regs/services/web')).body.data?.status?.deployment;
      if (st?.status === 'FAILED') throw new Error(`deployment failed: ${JSON.stringify(st)}\n${p.logs.join('').slice(-3000)}`);
      return st?.status === 'COMPLETED';
    }, 120_000, 'service COMPLETED');
    const res = await viaRouter(p, 'p01--web--regs.localhost');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { env: { A: string } }).env.A, 'from-private-registry');

    const rollouts = (await api(p, 'GET', '/projects/regs/services/web/rollouts')).body.rollouts as { number: number; status: string; events: { message: string }[] }[];
    const first = rollouts.find((r) => r.status === 'COMPLETED')!;
    const messages = first.events.map((e) => e.message);
    console.log(`rollout 1 events:\n  ${messages.join('\n  ')}`);
    assert.ok(messages.some((m) => m.startsWith(`pulling ${repo}:v1`)), JSON.stringify(messages));
    assert.ok(messages.includes(`pulled ${repo}:v1`), JSON.stringify(messages));
    assert.ok(messages.filter((m) => m.includes('pull')).length <= 42, 'a handful of progress lines, not one per chunk');
    assert.ok(!JSON.stringify(rollouts).includes(PASSWORD));
  });

  it('fails a rollout whose image the registry refuses, clearly, while the old release keeps serving', async () => {
    const patched = await api(p, 'PATCH', '/v1/projects/regs/services/deployment/web', { deployment: { instances: 1, external: { imagePath: `${repo}:v2`, credentials: 'wrong-password' } } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const failed = await waitFor(async () => {
      const r = ((await api(p, 'GET', '/projects/regs/services/web/rollouts')).body.rollouts as { toRelease: number; status: string; message: string | null }[]).find((x) => x.toRelease === 2);
      // Meanwhile the first release answers through the router.
      assert.equal((await viaRouter(p, 'p01--web--regs.localhost')).status, 200);
      return r && r.status !== 'IN_PROGRESS' ? r : undefined;
    }, 90_000, 'rollout to release 2 concluded');
    assert.equal(failed.status, 'FAILED');
    console.log(`rollout 2 failed: ${failed.message}`);
    const second = ((await api(p, 'GET', '/projects/regs/services/web/rollouts')).body.rollouts as { toRelease: number; events: { message: string }[] }[]).find((x) => x.toRelease === 2)!;
    assert.match(second.events.at(-1)!.message, /^failed: /, 'the failure is the rollout\'s last word');
    assert.match(failed.message ?? '', new RegExp(`${repo.replace(/[.]/g, '\\.')}:v2`), 'the message names the image');
    assert.match(failed.message ?? '', /refused the credentials|unauthorized|authentication/i, 'and the reason');
    assert.ok(!(failed.message ?? '').includes(WRONG_PASSWORD) && !(failed.message ?? '').includes(PASSWORD));

    const svc = await waitFor(async () => {
      const d = (await api(p, 'GET', '/v1/projects/regs/services/web')).body.data;
      return d?.status?.deployment?.status === 'FAILED' ? d : undefined;
    }, 30_000, 'service FAILED');
    assert.match(svc.status.deployment.message ?? '', /returned to release 1/);
    for (let i = 0; i < 5; i++) {
      const res = await viaRouter(p, 'p01--web--regs.localhost');
      assert.equal(res.status, 200);
      assert.match(((await res.json()) as { env: { SLIPWAY_INSTANCE: string } }).env.SLIPWAY_INSTANCE, /^regs--web--web-r1-/, 'served by release 1');
    }
  });

  it('fails a rollout to an image the registry does not have, naming the image', async () => {
    const patched = await api(p, 'PATCH', '/v1/projects/regs/services/deployment/web', { deployment: { instances: 1, external: { imagePath: `${repo}:missing`, credentials: 'test-registry' } } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const failed = await waitFor(async () => {
      const r = ((await api(p, 'GET', '/projects/regs/services/web/rollouts')).body.rollouts as { toRelease: number; status: string; message: string | null }[]).find((x) => x.toRelease === 3);
      return r && r.status !== 'IN_PROGRESS' ? r : undefined;
    }, 90_000, 'rollout to release 3 concluded');
    console.log(`rollout 3 failed: ${failed.message}`);
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.message ?? '', /conformance:missing/);
    assert.match(failed.message ?? '', /not found|manifest unknown/i);
    const res = await viaRouter(p, 'p01--web--regs.localhost');
    assert.equal(res.status, 200);
    assert.match(((await res.json()) as { env: { SLIPWAY_INSTANCE: string } }).env.SLIPWAY_INSTANCE, /^regs--web--web-r1-/, 'still served by release 1');
  });

  it('refuses unknown credentials and credentials restricted to other projects at deploy time', async () => {
    const unknown = await api(p, 'POST', '/v1/projects/regs/services/deployment', {
      name: 'ghost',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1, external: { imagePath: `${repo}:v1`, credentials: 'no-such-creds' } },
    });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.ok(unknown.body.error.details['deployment.external.credentials'], JSON.stringify(unknown.body));

    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'other' })).status, 200);
    const restricted = await client.add.registryCredentials({
      data: { name: 'Other Only', provider: 'custom', registryUrl: registry.address, credentials: { username: USER, password: PASSWORD, scope: { pull: true } }, restrictions: { restricted: true, projects: ['other'] } },
    });
    assert.equal(restricted.data.id, 'other-only');
    const refused = await api(p, 'PATCH', '/v1/projects/regs/services/deployment/web', { deployment: { instances: 1, external: { imagePath: `${repo}:v1`, credentials: 'other-only' } } });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.ok(refused.body.error.details['deployment.external.credentials'], JSON.stringify(refused.body));

    // A project token reads the credentials its project may use, and cannot write any.
    const tok = await api(p, 'POST', '/tokens', { name: 'regs dev', role: 'developer', projectId: 'regs' });
    assert.equal(tok.status, 201, JSON.stringify(tok.body));
    const dev = { token: tok.body.token as string };
    const seen = await api(p, 'GET', '/v1/integrations/registries', undefined, dev);
    assert.deepEqual((seen.body.data.credentials as { id: string }[]).map((c) => c.id).sort(), ['test-registry', 'wrong-password']);
    assert.equal((await api(p, 'GET', '/v1/integrations/registries/other-only', undefined, dev)).status, 404);
    assert.equal((await api(p, 'POST', '/v1/integrations/registries', { name: 'Mine Now', provider: 'dockerhub', credentials: { username: 'u', password: 'p', scope: { pull: true } } }, dev)).status, 403);
    assert.equal((await api(p, 'DELETE', '/v1/integrations/registries/test-registry', undefined, dev)).status, 403);
    const badProject = await api(p, 'PATCH', '/v1/integrations/registries/other-only', { restrictions: { restricted: true, projects: ['nope'] } });
    assert.equal(badProject.status, 400);
    assert.ok(badProject.body.error.details['restrictions.projects.0'], JSON.stringify(badProject.body));
  });

  it('updates and deletes credentials', async () => {
    const updated = await client.update.registryCredentials({ parameters: { credentialId: 'wrong-password' }, data: { credentials: { password: PASSWORD, scope: { pull: true } } } });
    assert.equal(updated.error, undefined, JSON.stringify(updated.error));
    assert.ok(!JSON.stringify(updated.data).includes(PASSWORD));
    const deleted = await client.delete.registryCredentials({ parameters: { credentialId: 'other-only' } });
    assert.equal(deleted.error, undefined);
    const gone = await api(p, 'GET', '/v1/integrations/registries/other-only');
    assert.equal(gone.status, 404);
    assert.equal(typeof gone.body.error.message, 'string');
  });
});
