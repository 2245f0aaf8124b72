/**
 * The docker driver against the shared conformance suite, on a Podman Docker-compatible service this file
 * starts (and stops) itself. No registry is reachable: the conformance image is built `FROM scratch` with
 * the static busybox (test/fixtures/images/conformance) through the engine's build API.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDriverConformance } from '../src/runtime/conformance.ts';
import { DockerDriver } from '../src/runtime/docker/docker-driver.ts';
import { ROOT, api, startTestPlatform, viaRouter, waitFor } from './support/platform.ts';
import { IMAGE, buildConformanceImage, startPodman } from './support/podman.ts';

const podman = await startPodman();
const { dockerHost, docker } = podman;
after(() => podman.stop());
console.log(`conformance image ${IMAGE} built in ${await buildConformanceImage(docker)} ms`);

const artifactDir = path.join(ROOT, 'test/fixtures/images/conformance/app');
runDriverConformance('docker (podman)', (stateDir) => new DockerDriver({ stateDir, dockerHost }), {
  artifactDir,
  image: IMAGE,
  appCommand: 'sh /app/app.sh',
  portInside: 'internal',
});

const labels = { project: 'dk', service: 'svc', release: 'r1', processType: 'web' };

it('labels the container for adoption and applies memory and CPU limits', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-'));
  const driver = new DockerDriver({ stateDir, dockerHost });
  const id = `dk--svc--web-r1-0-${process.pid.toString(16)}`;
  try {
    await driver.start({ id, labels, image: IMAGE, command: ['/bin/sh', '-c', 'exec sh /app/app.sh'], env: {}, files: [], ports: [{ name: 'p01', internalPort: 8080 }], memoryMb: 64, cpu: 0.5 });
    const info = await docker.getContainer(id).inspect();
    assert.deepEqual(
      Object.fromEntries(Object.entries(info.Config.Labels).filter(([k]) => ['slipway.project', 'slipway.service', 'slipway.release', 'slipway.processType', 'slipway.instance'].includes(k))),
      { 'slipway.project': 'dk', 'slipway.service': 'svc', 'slipway.release': 'r1', 'slipway.processType': 'web', 'slipway.instance': id },
    );
    assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 0.5e9);
    assert.equal(info.HostConfig.PortBindings['8080/tcp'][0].HostIp, '127.0.0.1');
  } finally {
    await driver.stop(id, 1);
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it('runs a release without an image in the artifact image, its artifact mounted read-only at /app', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-'));
  const artifact = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-artifact-'));
  fs.writeFileSync(path.join(artifact, 'hello.txt'), 'from the artifact\n');
  const driver = new DockerDriver({ stateDir, dockerHost, artifactImage: IMAGE });
  const id = `dk--svc--web-r1-3-${process.pid.toString(16)}`;
  try {
    await driver.start({ id, labels, artifactDir: artifact, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [] });
    assert.deepEqual(await driver.exec(id, ['/bin/sh', '-c', 'pwd; cat hello.txt']), { exitCode: 0, output: '/app\nfrom the artifact\n' });
    assert.notEqual((await driver.exec(id, ['/bin/sh', '-c', 'echo x > /app/new.txt'])).exitCode, 0);
  } finally {
    await driver.stop(id, 1);
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(artifact, { recursive: true, force: true });
  }
});

it('follows logs until the container stops, then keeps them once it is removed', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-'));
  const driver = new DockerDriver({ stateDir, dockerHost });
  const id = `dk--svc--web-r1-4-${process.pid.toString(16)}`;
  try {
    await driver.start({ id, labels, image: IMAGE, command: ['/bin/sh', '-c', 'for i in 0 1 2 3 4 5; do echo line$i; usleep 200000; done'], env: {}, files: [], ports: [] });
    await new Promise((r) => setTimeout(r, 300));
    const followed: string[] = [];
    for await (const l of driver.logs(id, { follow: true, signal: AbortSignal.timeout(10_000) })) followed.push(l.line);
    assert.deepEqual(followed, ['line0', 'line1', 'line2', 'line3', 'line4', 'line5']);
    await driver.stop(id, 1);
    const kept: string[] = [];
    for await (const l of driver.logs(id, { tail: 2 })) kept.push(l.line);
    assert.deepEqual(kept, ['line4', 'line5']);
  } finally {
    await driver.stop(id, 1).catch(() => {});
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it('fails a start whose image cannot be pulled, leaving no container', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-'));
  const driver = new DockerDriver({ stateDir, dockerHost });
  const id = `dk--svc--web-r1-1-${process.pid.toString(16)}`;
  try {
    await assert.rejects(
      driver.start({ id, labels, image: '127.0.0.1:1/nowhere/app:1', registryAuth: { username: 'u', password: 'p', serveraddress: '127.0.0.1:1' }, command: [], env: {}, files: [], ports: [] }),
    );
    assert.equal((await driver.list()).some((i) => i.id === id), false);
  } finally {
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it('refuses a spec without an image or with a relative runtime file path', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-'));
  const driver = new DockerDriver({ stateDir, dockerHost });
  const base = { id: `dk--svc--web-r1-2-${process.pid.toString(16)}`, labels, command: [], env: {}, ports: [] };
  try {
    await assert.rejects(driver.start({ ...base, files: [] }), /neither an image nor an artifact/);
    await assert.rejects(driver.start({ ...base, image: IMAGE, files: [{ path: 'etc/x', content: Buffer.from('x') }] }), /absolute/);
  } finally {
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it('SLIPWAY_RUNTIME=docker: an image deployment made through /v1 rolls out and answers through the router', async () => {
  const p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: dockerHost });
  try {
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dock' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/dock/services/deployment', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2, external: { imagePath: IMAGE } }, // the image's own CMD
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { A: 'via-platform' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => {
      const st = (await api(p, 'GET', '/v1/projects/dock/services/web')).body.data?.status?.deployment?.status;
      if (st === 'FAILED') throw new Error(`deployment failed: ${p.logs.join('').slice(-3000)}`);
      return st === 'COMPLETED';
    }, 120_000, 'service COMPLETED');
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await viaRouter(p, 'p01--web--dock.localhost');
      assert.equal(res.status, 200);
      const body = (await res.json()) as { env: { A: string; SLIPWAY_INSTANCE: string } };
      assert.equal(body.env.A, 'via-platform');
      seen.add(body.env.SLIPWAY_INSTANCE);
    }
    assert.equal(seen.size, 2, 'requests reach both containers');

    // A job runs from the same image, with its own command.
    const job = await api(p, 'POST', '/v1/projects/dock/jobs/manual', { name: 'tool', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { external: { imagePath: IMAGE } }, command: 'echo "job from image $A"', runtimeEnvironment: { A: 'ok' } });
    assert.equal(job.status, 200, JSON.stringify(job.body));
    const run = await api(p, 'POST', `/v1/projects/dock/jobs/${job.body.data.id}/runs`, {});
    assert.equal(run.status, 200, JSON.stringify(run.body));
    const runId = run.body.data.id as string;
    const done = await waitFor(async () => {
      const r = (await api(p, 'GET', `/v1/projects/dock/jobs/${job.body.data.id}/runs/${runId}`)).body.data;
      return r.concluded ? r : undefined;
    }, 60_000, 'image job run concluded');
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done));
    const logs = (await api(p, 'GET', `/projects/dock/jobs/${job.body.data.id}/runs/${runId}/logs`)).body.lines as { line: string }[];
    assert.ok(logs.some((l) => l.line === 'job from image ok'), JSON.stringify(logs));

    // An Akkeris one-off formation with an image override.
    const oneoff = await api(p, 'POST', '/apps/web-dock/formation', { type: 'once', size: 'gp1', quantity: 1, oneoff: true, command: 'echo "one-off $B"', options: { env: { B: 'from-image' }, image: IMAGE } });
    assert.equal(oneoff.status, 200, JSON.stringify(oneoff.body));
    const href = oneoff.body.run.href as string;
    const ran = await waitFor(async () => {
      const r = (await api(p, 'GET', href)).body;
      return ['SUCCEEDED', 'FAILED'].includes(r.status) ? r : undefined;
    }, 60_000, 'one-off image run finished');
    assert.equal(ran.status, 'SUCCEEDED', JSON.stringify(ran));
    assert.ok(((await api(p, 'GET', `${href}/logs`)).body.lines as { line: string }[]).some((l) => l.line === 'one-off from-image'));
  } finally {
    await p.stop();
    // Instances outlive the control plane by design: remove this test's containers.
    for (const c of await docker.listContainers({ all: true, filters: { label: ['slipway.project=dock'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  }
});

// Each container has an address of its own on Podman's network, so the router can tell an instance's
// request from a user's: a request from an instance of the route's project is internal traffic.
for (const router of ['haproxy', 'builtin'] as const) {
  it(`SLIPWAY_RUNTIME=docker, ${router} router: a request from an instance of the same project skips the policies that let internal traffic through; other projects' instances and the host do not`, async () => {
    // The router on every address (as by default), so containers reach it through their network's gateway.
    const p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: dockerHost, SLIPWAY_ROUTER: router, SLIPWAY_ROUTER_HOST: '0.0.0.0' });
    const projects = [`intl${router[0]}`, `othr${router[0]}`];
    try {
      const deploy = async (project: string, name: string, extra: Record<string, unknown>) => {
        const created = await api(p, 'POST', `/v1/projects/${project}/services/deployment`, { name, billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 1, external: { imagePath: IMAGE } }, ...extra });
        assert.equal(created.status, 200, JSON.stringify(created.body));
      };
      for (const project of projects) assert.equal((await api(p, 'POST', '/v1/projects', { name: project })).status, 200);
      const [own, other] = projects;
      await deploy(own, 'api', {
        ports: [
          {
            name: 'p01',
            internalPort: 8080,
            public: true,
            protocol: 'HTTP',
            security: {
              credentials: [{ username: 'admin', password: 'pw-internal', type: 'basic-auth' }],
              securePathConfiguration: { enabled: true, skipSecurityPoliciesForInternalTrafficViaPublicDns: true, rules: [] },
            },
          },
        ],
      });
      const privatePort = { ports: [{ name: 'p01', internalPort: 8080, public: false, protocol: 'HTTP' }] };
      await deploy(own, 'caller', privatePort);
      await deploy(other, 'caller', privatePort);
      for (const [project, name] of [[own, 'api'], [own, 'caller'], [other, 'caller']]) {
        await waitFor(async () => {
          const st = (await api(p, 'GET', `/v1/projects/${project}/services/${name}`)).body.data?.status?.deployment?.status;
          if (st === 'FAILED') throw new Error(`${project}/${name} failed: ${p.logs.join('').slice(-3000)}`);
          return st === 'COMPLETED';
        }, 120_000, `${project}/${name} COMPLETED`);
      }
      const host = `p01--api--${own}.localhost`;
      /** A request through the router from inside the caller container of a project (busybox wget). */
      const fromCaller = async (project: string) => {
        const [c] = await docker.listContainers({ filters: { label: [`slipway.project=${project}`, 'slipway.service=caller'] } });
        assert.ok(c, `the caller container of ${project}`);
        const info = await docker.getContainer(c.Id).inspect();
        const gateway = Object.values(info.NetworkSettings.Networks).find((n) => n.Gateway)?.Gateway;
        assert.ok(gateway, 'the container network has a gateway to the host');
        // Each request bounded: busybox wget has no connect timeout of its own, and a connection from a
        // container whose network is still coming up can stall far past the test's wait.
        const ex = await docker.getContainer(c.Id).exec({ Cmd: ['timeout', '10', 'wget', '-S', '-q', '-O', '-', '--header', `Host: ${host}`, `http://${gateway}:${p.routerPort}/`], AttachStdout: true, AttachStderr: true });
        const stream = await ex.start({});
        const chunks: Buffer[] = [];
        stream.on('data', (d: Buffer) => chunks.push(d));
        await new Promise((r) => stream.on('end', r));
        const text = Buffer.concat(chunks).toString('latin1');
        return Number(/HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      };
      // The routing table follows the instances as they run: wait until the caller's address is in it.
      await waitFor(async () => (await fromCaller(own)) === 200, 30_000, 'a request from an instance of the project passes without credentials');
      assert.equal(await fromCaller(other), 401, 'an instance of another project is not internal');
      // A job run of the project is an instance of it too: its container asks until the router knows its
      // address (the watch polls), and succeeds only with a 200.
      const gateway = await (async () => {
        const [c] = await docker.listContainers({ filters: { label: [`slipway.project=${own}`, 'slipway.service=caller'] } });
        return Object.values((await docker.getContainer(c.Id).inspect()).NetworkSettings.Networks).find((n) => n.Gateway)!.Gateway;
      })();
      const job = await api(p, 'POST', `/v1/projects/${own}/jobs/manual`, {
        name: 'asker',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { external: { imagePath: IMAGE } },
        command: `i=0; while [ $i -lt 60 ]; do if timeout 3 wget -q -O /dev/null --header "Host: ${host}" "http://${gateway}:${p.routerPort}/"; then echo internal-ok; exit 0; fi; i=$((i+1)); sleep 0.5; done; exit 1`,
      });
      assert.equal(job.status, 200, JSON.stringify(job.body));
      const run = await api(p, 'POST', `/v1/projects/${own}/jobs/${job.body.data.id}/runs`, {});
      assert.equal(run.status, 200, JSON.stringify(run.body));
      const runPath = `/v1/projects/${own}/jobs/${job.body.data.id}/runs/${run.body.data.id}`;
      const runLogs = async () => JSON.stringify((await api(p, 'GET', `/projects/${own}/jobs/${job.body.data.id}/runs/${run.body.data.id}/logs`)).body);
      // At most 60 tries of 3.5 s; the wait is longer than that, so a run that fails says why.
      const done = await waitFor(async () => {
        const r = (await api(p, 'GET', runPath)).body.data;
        return r.concluded ? r : undefined;
      }, 300_000, 'the job run concluded').catch(async (err: Error) => {
        throw new Error(`${err.message}; run: ${JSON.stringify((await api(p, 'GET', runPath)).body.data)}; output: ${await runLogs()}`);
      });
      assert.equal(done.status, 'SUCCESS', `${JSON.stringify(done)}; output: ${await runLogs()}`);
      assert.equal((await viaRouter(p, host)).status, 401, 'nor is the host');
      const authorised = await viaRouter(p, host, '/', { headers: { authorization: `Basic ${Buffer.from('admin:pw-internal').toString('base64')}` } });
      assert.equal(authorised.status, 200);
    } finally {
      await p.stop();
      for (const project of projects) for (const c of await docker.listContainers({ all: true, filters: { label: [`slipway.project=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
  });
}
