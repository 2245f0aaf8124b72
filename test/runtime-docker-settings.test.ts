/**
 * Container settings on the docker runtime, on one Podman Docker-compatible service for the file: the four
 * `docker.configType` modes against an image with its own ENTRYPOINT and CMD (test/fixtures/images/settings,
 * built FROM the conformance image), `/dev/shm` sized from `storage.shmSize`, the ephemeral-storage limit
 * (the engine here refuses `StorageOpt.size` on ext4, so the driver evicts as the kubelet does), and the
 * containers adopted, not restarted, by a control plane that was killed and started again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { DockerDriver } from '../src/runtime/docker/docker-driver.ts';
import type { InstanceEvent } from '../src/runtime/driver.ts';
import { ROOT, api, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { IMAGE, buildConformanceImage, startPodman } from './support/podman.ts';

const SETTINGS_IMAGE = 'localhost/slipway-settings:test';
const podman = await startPodman();
const { dockerHost, docker } = podman;
after(() => podman.stop());
await buildConformanceImage(docker);
{
  const stream = await docker.buildImage(tar.c({ cwd: path.join(ROOT, 'test/fixtures/images/settings'), portable: true }, ['.']) as unknown as NodeJS.ReadableStream, { t: SETTINGS_IMAGE, rm: true });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
      const failed = events?.find((e) => e.error);
      if (err || failed) reject(err ?? new Error(`settings image build failed: ${failed!.error}`));
      else resolve();
    }),
  );
}

const labels = { project: 'dks', service: 'svc', release: 'r1', processType: 'web' };

describe('the docker driver', () => {
  let stateDir: string;
  let driver: DockerDriver;
  before(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-docker-settings-'));
    driver = new DockerDriver({ stateDir, dockerHost });
  });
  after(async () => {
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
    for (const c of await docker.listContainers({ all: true, filters: { label: ['slipway.project=dks'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  });

  it('sizes /dev/shm from shmSizeMb', async () => {
    const id = `dks--svc--web-r1-0-${process.pid.toString(16)}`;
    try {
      await driver.start({ id, labels, image: IMAGE, command: ['/bin/sh', '-c', 'exec sleep 60'], env: {}, files: [], ports: [], shmSizeMb: 96 });
      assert.equal((await docker.getContainer(id).inspect()).HostConfig.ShmSize, 96 * 1024 * 1024);
      const df = await driver.exec(id, ['df', '-m', '/dev/shm']);
      assert.equal(df.exitCode, 0, df.output);
      // busybox df -m: Filesystem 1M-blocks Used Available Use% Mounted on
      const row = df.output.trim().split('\n').at(-1)!.split(/\s+/);
      assert.equal(row[1], '96', df.output);
    } finally {
      await driver.stop(id, 1);
    }
  });

  it('evicts a container that writes more than its ephemeral storage limit, and says why', async () => {
    const id = `dks--svc--web-r1-1-${process.pid.toString(16)}`;
    const exits: InstanceEvent[] = [];
    const unwatch = driver.watch((e) => {
      if (e.instance.id === id && e.type === 'exited') exits.push(e);
    });
    try {
      // Writes 4 MB (under the limit), then 12 MB more, then waits to be ended.
      await driver.start({
        id,
        labels,
        image: IMAGE,
        command: ['/bin/sh', '-c', 'dd if=/dev/zero of=/tmp/small bs=1M count=4 && echo small-written && sleep 3 && dd if=/dev/zero of=/tmp/big bs=1M count=12 && echo big-written && exec sleep 120'],
        env: {},
        files: [],
        ports: [],
        ephemeralStorageMb: 10,
      });
      assert.equal((await docker.getContainer(id).inspect()).Config.Labels['slipway.ephemeralStorageMb'], '10');
      const exited = await waitFor(() => exits[0], 60_000, 'the container evicted');
      assert.equal(exited.instance.state, 'exited');
      assert.match(exited.instance.reason ?? '', /^Evicted: ephemeral storage over its 10 MB limit/);
      assert.equal(exited.instance.signal, 'SIGKILL');
      // The engine still shows it exited with the same reason, and it ran past its under-the-limit write.
      const listed = (await driver.list()).find((i) => i.id === id);
      assert.equal(listed?.reason, exited.instance.reason);
      const out: string[] = [];
      for await (const l of driver.logs(id)) out.push(l.line);
      assert.ok(out.includes('small-written'), out.join('\n'));
      // The reason outlives the driver that evicted it (a restarted control plane still reads it).
      const again = new DockerDriver({ stateDir, dockerHost });
      assert.equal((await again.list()).find((i) => i.id === id)?.reason, exited.instance.reason);
      await again.close();
    } finally {
      unwatch();
      await driver.stop(id, 1);
    }
    assert.equal((await driver.list()).some((i) => i.id === id), false);
  });

  it('runs an entrypoint override with the image CMD and a command override with the image ENTRYPOINT', async () => {
    const base = { labels, image: SETTINGS_IMAGE, command: [], env: {}, files: [], ports: [] };
    const ids = [0, 1, 2].map((n) => `dks--svc--web-r1-${n + 2}-${process.pid.toString(16)}`);
    try {
      await driver.start({ ...base, id: ids[0], entrypoint: ['/bin/alt-entry'] });
      await driver.start({ ...base, id: ids[1], cmd: ['custom', 'two words'] });
      await driver.start({ ...base, id: ids[2] });
      const config = async (id: string) => {
        const c = (await docker.getContainer(id).inspect()).Config;
        return { Entrypoint: c.Entrypoint, Cmd: c.Cmd };
      };
      assert.deepEqual(await config(ids[0]), { Entrypoint: ['/bin/alt-entry'], Cmd: ['image-cmd'] });
      assert.deepEqual(await config(ids[1]), { Entrypoint: ['/bin/image-entry'], Cmd: ['custom', 'two words'] });
      assert.deepEqual(await config(ids[2]), { Entrypoint: ['/bin/image-entry'], Cmd: ['image-cmd'] });
    } finally {
      for (const id of ids) await driver.stop(id, 1);
    }
  });
});

describe('SLIPWAY_RUNTIME=docker through /v1', () => {
  let p: RunningPlatform;
  before(async () => {
    p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: dockerHost });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dset' })).status, 200);
  });
  after(async () => {
    await p?.stop();
    // Instances outlive the control plane by design: remove this file's containers.
    for (const c of await docker.listContainers({ all: true, filters: { label: ['slipway.project=dset'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  });

  const ready = (name: string) =>
    waitFor(async () => {
      const st = (await api(p, 'GET', `/v1/projects/dset/services/${name}`)).body.data?.status?.deployment?.status;
      if (st === 'FAILED') throw new Error(`${name} failed: ${p.logs.join('').slice(-3000)}`);
      return st === 'COMPLETED';
    }, 120_000, `${name} COMPLETED`);
  const answer = async (name: string) => {
    const res = await viaRouter(p, `p01--${name}--dset.localhost`);
    assert.equal(res.status, 200, `${name} answers through the router`);
    return ((await res.json()) as { env: { A: string | null; SLIPWAY_INSTANCE: string } }).env;
  };

  const modes: { name: string; docker: Record<string, string>; storage?: Record<string, unknown>; instances?: number; a: string }[] = [
    { name: 'default', docker: { configType: 'default' }, instances: 2, a: 'image-entry(1):image-cmd' },
    { name: 'entrypoint', docker: { configType: 'customEntrypoint', customEntrypoint: '/bin/alt-entry' }, a: 'alt-entry(1):image-cmd' },
    { name: 'command', docker: { configType: 'customCommand', customCommand: "custom 'two words'" }, a: 'image-entry(2):custom two words' },
    {
      name: 'both',
      docker: { configType: 'customEntrypointCustomCommand', customEntrypoint: '/bin/sh -c', customCommand: `'export A="sh-c:$0:$1"; exec sh /app/app.sh' zero "one two"` },
      storage: { shmSize: 96, ephemeralStorage: { storageSize: 1024 } },
      a: 'sh-c:zero:one two',
    },
  ];

  it('runs each docker.configType with Docker semantics on an image with its own ENTRYPOINT and CMD', async () => {
    for (const m of modes) {
      const created = await api(p, 'POST', '/v1/projects/dset/services/deployment', {
        name: m.name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: m.instances ?? 1, external: { imagePath: SETTINGS_IMAGE }, docker: m.docker, ...(m.storage ? { storage: m.storage } : {}) },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
    }
    await Promise.all(modes.map((m) => ready(m.name)));
    for (const m of modes) assert.equal((await answer(m.name)).A, m.a, `configType ${m.docker.configType}`);

    // The storage settings reach the container, and the service no longer says they are not enforced.
    const both = await docker.listContainers({ filters: { label: ['slipway.project=dset', 'slipway.service=both'] } });
    assert.equal(both.length, 1);
    const info = await docker.getContainer(both[0].Id).inspect();
    assert.equal(info.HostConfig.ShmSize, 96 * 1024 * 1024);
    assert.equal(info.Config.Labels['slipway.ephemeralStorageMb'], '1024');
    const notices = (await api(p, 'GET', '/v1/projects/dset/services/both')).body.data.notices as string[];
    assert.ok(!notices.some((n) => n.startsWith('storage:')), JSON.stringify(notices));
  });

  it('adopts the same running containers after the control plane is killed and started again', async () => {
    const containers = async () =>
      Promise.all(
        (await docker.listContainers({ all: true, filters: { label: ['slipway.project=dset', 'slipway.service=default'] } })).map(async (c) => {
          const i = await docker.getContainer(c.Id).inspect();
          return { id: i.Id, name: i.Name.replace(/^\//, ''), startedAt: i.State.StartedAt, restarts: i.RestartCount, running: i.State.Running };
        }),
      ).then((l) => l.sort((a, b) => a.name.localeCompare(b.name)));
    const before_ = await containers();
    assert.equal(before_.length, 2);
    assert.ok(before_.every((c) => c.running));
    const apiNames = async () => ((await api(p, 'GET', '/v1/projects/dset/services/default/containers')).body.data.containers as { name: string }[]).map((c) => c.name).sort();
    assert.deepEqual(await apiNames(), before_.map((c) => c.name));

    await p.kill9();
    await p.restart();
    await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/dset/services/default/containers')).body.data.containers as { ready: boolean }[];
      return c.length === 2 && c.every((x) => x.ready);
    }, 60_000, '2 ready containers after the restart').catch(async (err) => {
      // Say what the platform shows: the instances, their probes and the service's status.
      const svc = (await api(p, 'GET', '/v1/projects/dset/services/default')).body.data;
      assert.fail(`${(err as Error).message}; status ${JSON.stringify(svc?.status)}; containers ${JSON.stringify((await api(p, 'GET', '/v1/projects/dset/services/default/containers')).body.data.containers)}`);
    });
    assert.deepEqual(await apiNames(), before_.map((c) => c.name), 'the same instances are reported');
    const seen = new Set<string>();
    await waitFor(async () => {
      const env = await answer('default').catch(() => undefined);
      if (env) seen.add(env.SLIPWAY_INSTANCE);
      return seen.size === 2;
    }, 30_000, 'both adopted containers answer through the router');
    // Give the restarted controllers a few passes to do anything they would do, then compare the engine's view.
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/dset/services/default')).body.data.status.deployment.status === 'COMPLETED', 30_000, 'COMPLETED after restart');
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(await containers(), before_, 'same containers (ids, names, StartedAt), none restarted, none added');
  });
});
