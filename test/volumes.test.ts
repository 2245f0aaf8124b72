/**
 * Volumes through the official @northflank/js-client on the process runtime (bubblewrap where installed):
 * an app keeps a value in a file on its volume, through the router; the value survives a new release, a
 * restart, a crash and a kill -9 of the control plane; a service with a volume runs one instance, replaced
 * old-first (the app's own journal on the volume shows the order); a backup taken with the instance stopped
 * restores the old value into the volume, and makes a new volume.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, instancePids, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

interface AppAnswer {
  value: string | null;
  journal: string[];
  dir: string;
  instance: string;
  release: string;
  message: string;
}

describe('volumes on the process runtime through the Northflank client', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('volume-app');
  const project = 'vols';
  const mounts = [{ containerMountPath: '/data' }];

  const app = async (service: string, method = 'GET', path = '/'): Promise<AppAnswer> => {
    const res = await viaRouter(p, `${service}.${project}.localhost`, path, { method });
    if (res.status !== 200) throw new Error(`router answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as AppAnswer;
  };
  const volume = async (id: string) => (await client.get.volume({ parameters: { projectId: project, volumeId: id } })).data as any;
  const settled = (id: string) => waitFor(async () => {
    const v = await volume(id);
    return v.status === 'BOUND' && v.operation === null ? v : undefined;
  }, 120_000, `volume ${id} settled`);
  const completed = (service: string) => waitFor(async () => {
    const r = await client.get.service({ parameters: { projectId: project, serviceId: service } });
    const st = (r.data as any).status?.deployment?.status;
    if (st === 'FAILED') throw new Error(`deployment failed: ${JSON.stringify(r.data)}`);
    return st === 'COMPLETED';
  }, 180_000, `service ${service} COMPLETED`);
  const createService = async (name: string, env: Record<string, string> = {}) => {
    await client.create.service.combined({
      parameters: { projectId: project },
      data: {
        name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1 },
        vcsData: { projectUrl: `file://${repo.dir}`, projectType: 'self-hosted', projectBranch: 'main' },
        buildSettings: { buildpack: { builder: 'HEROKU_24' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        runtimeEnvironment: { DATA_DIR: '/data', ...env },
      } as never,
    });
    await completed(name);
  };

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: project } });
    await createService('keeper');
  });
  after(async () => {
    await p?.stop();
  });

  it('creates a volume attached to a service; the app keeps a value on it through the router', async () => {
    const created = await client.create.volume({
      parameters: { projectId: project },
      data: { name: 'data', mounts, spec: { accessMode: 'ReadWriteOnce', storageSize: 1024 }, attachedObjects: [{ id: 'keeper', type: 'service' }] },
    });
    assert.equal(created.data.id, 'data');
    assert.deepEqual(created.data.attachedObjects, [{ id: 'keeper', type: 'service' }]);
    assert.equal(created.data.spec.storageSize, 1024);
    const v = await settled('data');
    assert.ok(v.notices.some((n: string) => /not enforced/.test(n)), 'the volume says its size is not enforced here');
    const list = await client.list.volumes({ parameters: { projectId: project } });
    assert.deepEqual((list.data as any[]).map((x) => x.id), ['data']);

    // The instance started again with the volume mounted: its journal (on the volume) has its start.
    const first = await waitFor(async () => {
      const a = await app('keeper');
      return a.journal.some((l) => l.startsWith(`start ${a.instance}`)) ? a : undefined;
    }, 120_000, 'the app on its volume');
    assert.equal(first.dir, '/data');
    const written = await app('keeper', 'POST', '/value?v=first');
    assert.equal(written.value, 'first');
  });

  it('refuses more than one instance for a service with a volume, naming the field', async () => {
    const scale = await api(p, 'POST', `/v1/projects/${project}/services/keeper/scale`, { instances: 2 });
    assert.equal(scale.status, 400, JSON.stringify(scale.body));
    assert.ok(scale.body.error.details.instances, JSON.stringify(scale.body.error));
    const patch = await api(p, 'PATCH', `/v1/projects/${project}/services/combined/keeper`, { deployment: { instances: 3 } });
    assert.equal(patch.status, 400, JSON.stringify(patch.body));
    assert.ok(patch.body.error.details['deployment.instances'], JSON.stringify(patch.body.error));
    await assert.rejects(client.scale.service({ parameters: { projectId: project, serviceId: 'keeper' }, data: { instances: 2 } }));
    const svc = await client.get.service({ parameters: { projectId: project, serviceId: 'keeper' } });
    assert.equal((svc.data as any).deployment.instances, 1);
  });

  it('keeps the data across a new release, stopping the old instance before the new one starts', async () => {
    const before = await app('keeper');
    await api(p, 'PATCH', `/v1/projects/${project}/services/combined/keeper`, { runtimeEnvironment: { DATA_DIR: '/data', GREETING: 'release two' } });
    const now = await waitFor(async () => {
      const a = await app('keeper');
      return a.message === 'release two' ? a : undefined;
    }, 120_000, 'the new release answering');
    assert.equal(now.value, 'first');
    assert.notEqual(now.instance, before.instance);
    // The journal on the volume: the old instance was told to stop before the new one started.
    const stopOld = now.journal.indexOf(`stop ${before.instance} ${before.release}`);
    const startNew = now.journal.indexOf(`start ${now.instance} ${now.release}`);
    const rollouts = (await api(p, 'GET', `/projects/${project}/services/keeper/rollouts`)).body.rollouts as { events: { message: string }[] }[];
    const oldLog = () => {
      try {
        return fs.readFileSync(path.join(p.dataDir, 'runtime', 'logs', `${before.instance}.log`), 'utf8').slice(-2000);
      } catch (err) {
        return String(err);
      }
    };
    assert.ok(stopOld >= 0 && startNew > stopOld, `old stopped before new started: ${now.journal.join(' | ')}; ${JSON.stringify(rollouts)}; old instance's output: ${oldLog()}; platform: ${p.logs.join('').slice(-6000)}`);
    await completed('keeper');
    const said = JSON.stringify(rollouts.find((r: any) => r.toRelease === 2));
    assert.match(said, /stopping the old instance first: the service has volume data/);
  });

  it('keeps the data across a restart and a crash', async () => {
    const before = await app('keeper');
    await client.restart.service({ parameters: { projectId: project, serviceId: 'keeper' } });
    const restarted = await waitFor(async () => {
      const a = await app('keeper').catch(() => undefined);
      return a && a.instance !== before.instance ? a : undefined;
    }, 120_000, 'a restarted instance');
    assert.equal(restarted.value, 'first');

    const [pid] = instancePids(p.dataDir, restarted.instance).slice(-1);
    assert.ok(pid, 'the app has a pid');
    process.kill(pid, 'SIGKILL');
    const again = await waitFor(async () => {
      const a = await app('keeper').catch(() => undefined);
      return a && a.journal.filter((l) => l.startsWith(`start ${restarted.instance}`)).length >= 2 ? a : undefined;
    }, 120_000, 'the crashed instance back');
    assert.equal(again.value, 'first');
  });

  it('keeps the data across a kill -9 of the control plane', async () => {
    await p.kill9();
    await p.restart();
    client = await northflankClient(p);
    const a = await waitFor(() => app('keeper').catch(() => undefined), 60_000, 'the app after the control plane came back');
    assert.equal(a.value, 'first');
    const v = await volume('data');
    assert.deepEqual(v.attachedObjects, [{ id: 'keeper', type: 'service' }]);
  });

  let backupId = '';
  it('backs the volume up with the instance stopped, and restores the old data into it', async () => {
    const started = await client.backup.volume({ parameters: { projectId: project, volumeId: 'data' }, data: { name: 'before change', description: 'value first' } });
    backupId = started.data.id;
    const done = await waitFor(async () => {
      const b = (await client.get.volume.backup({ parameters: { projectId: project, volumeId: 'data', backupId } })).data as any;
      if (b.status === 'failed') throw new Error(`backup failed: ${JSON.stringify(b)}`);
      return b.status === 'completed' ? b : undefined;
    }, 120_000, 'backup completed');
    assert.equal(done.name, 'before change');
    assert.ok(done.sizeBytes > 0);
    const backups = await client.get.volume.backups({ parameters: { projectId: project, volumeId: 'data' } });
    assert.deepEqual((backups.data as any[]).map((b) => b.id), [backupId]);
    await settled('data');

    // The instance was stopped for the copy and started again after it: its journal says so.
    const back = await waitFor(() => app('keeper').catch(() => undefined), 60_000, 'the app after the backup');
    const events = (await api(p, 'GET', `/projects/${project}/services/keeper/events`)).body;
    assert.match(JSON.stringify(events), /backup .* completed/);

    await app('keeper', 'POST', '/value?v=second');
    assert.equal((await app('keeper')).value, 'second');
    assert.notEqual(back.instance, '');

    const restore = await api(p, 'POST', `/v1/projects/${project}/volumes/data/backups/${backupId}/restore`);
    assert.equal(restore.status, 200, JSON.stringify(restore.body));
    await settled('data');
    const restored = await waitFor(async () => {
      const a = await app('keeper').catch(() => undefined);
      return a?.value === 'first' ? a : undefined;
    }, 120_000, 'the restored value');
    assert.equal(restored.value, 'first');
  });

  it('finishes a backup interrupted by a kill -9 of the control plane, and the app comes back with its data', async () => {
    const started = await client.backup.volume({ parameters: { projectId: project, volumeId: 'data' }, data: { name: 'interrupted' } });
    await p.kill9();
    await p.restart();
    client = await northflankClient(p);
    await waitFor(async () => {
      const b = (await client.get.volume.backup({ parameters: { projectId: project, volumeId: 'data', backupId: started.data.id } })).data as any;
      if (b.status === 'failed') throw new Error(`backup failed: ${JSON.stringify(b)}`);
      return b.status === 'completed';
    }, 120_000, 'the interrupted backup completed');
    await settled('data');
    const a = await waitFor(() => app('keeper').catch(() => undefined), 120_000, 'the app after the interrupted backup');
    assert.equal(a.value, 'first');
  });

  it('creates a new volume from a backup, with the backup’s data', async () => {
    await createService('reader');
    const created = await client.create.volume({
      parameters: { projectId: project },
      data: { name: 'copy', mounts, spec: { accessMode: 'ReadWriteOnce', storageSize: 2048 }, source: { type: 'backup', sourceId: backupId }, attachedObjects: [{ id: 'reader', type: 'service' }] },
    });
    assert.equal(created.data.id, 'copy');
    await settled('copy');
    const a = await waitFor(async () => {
      const r = await app('reader').catch(() => undefined);
      return r?.value === 'first' ? r : undefined;
    }, 120_000, 'the copied value');
    assert.equal(a.value, 'first');
    // The copy is its own: a write there leaves the original alone.
    await app('reader', 'POST', '/value?v=copy-only');
    assert.equal((await app('keeper')).value, 'first');
  });

  it('refuses bad volume input, naming the field', async () => {
    const cases: { body: unknown; field: string }[] = [
      { body: { name: 'bad', mounts: [{ containerMountPath: 'relative' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 10 } }, field: 'mounts.0.containerMountPath' },
      { body: { name: 'bad', mounts: [{ containerMountPath: '/a' }, { containerMountPath: '/a' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 10 } }, field: 'mounts.1.containerMountPath' },
      { body: { name: 'bad', mounts, spec: { accessMode: 'ReadWriteOnce', storageSize: 0 } }, field: 'spec.storageSize' },
      { body: { name: 'bad', mounts, spec: { accessMode: 'Sometimes', storageSize: 10 } }, field: 'spec.accessMode' },
      { body: { name: 'bad', mounts, spec: { accessMode: 'ReadWriteOnce', storageSize: 10 }, source: { type: 'backup', sourceId: 'nope' } }, field: 'source.sourceId' },
      { body: { name: 'bad', mounts, spec: { accessMode: 'ReadWriteOnce', storageSize: 10 }, attachedObjects: [{ id: 'ghost', type: 'service' }] }, field: 'attachedObjects.0.id' },
    ];
    for (const c of cases) {
      const res = await api(p, 'POST', `/v1/projects/${project}/volumes`, c.body);
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(c.body)}: ${res.status}`);
      assert.ok(res.body.error.details?.[c.field], `${c.field} named: ${JSON.stringify(res.body.error)}`);
    }
    const attachTaken = await api(p, 'POST', `/v1/projects/${project}/volumes/copy/attach`, { nfObject: { id: 'keeper', type: 'service' } });
    assert.equal(attachTaken.status, 409);
    const shrink = await api(p, 'POST', `/v1/projects/${project}/volumes/data`, { spec: { storageSize: 10 } });
    assert.equal(shrink.status, 400);
    assert.ok(shrink.body.error.details['spec.storageSize']);
    const attached = await api(p, 'DELETE', `/v1/projects/${project}/volumes/data`);
    assert.equal(attached.status, 409, 'an attached volume is not deleted');
  });

  it('detaches a volume (the instance runs on without it) and deletes it', async () => {
    await client.detach.volume({ parameters: { projectId: project, volumeId: 'copy' }, data: { nfObject: { id: 'reader', type: 'service' } } });
    await waitFor(async () => {
      const v = await volume('copy');
      return v.attachedObjects.length === 0 && v.operation === null;
    }, 120_000, 'volume detached');
    const a = await waitFor(async () => {
      const r = await app('reader').catch(() => undefined);
      return r && r.value === null ? r : undefined;
    }, 120_000, 'the reader without its volume');
    assert.equal(a.value, null);
    // Now it may scale out.
    const scale = await api(p, 'POST', `/v1/projects/${project}/services/reader/scale`, { instances: 2 });
    assert.equal(scale.status, 200, JSON.stringify(scale.body));
    // …and a volume is not attached to a service that runs two.
    const attach = await api(p, 'POST', `/v1/projects/${project}/volumes/copy/attach`, { nfObject: { id: 'reader', type: 'service' } });
    assert.equal(attach.status, 400, JSON.stringify(attach.body));
    assert.ok(attach.body.error.details['deployment.instances'], JSON.stringify(attach.body.error));
    await client.delete.volume({ parameters: { projectId: project, volumeId: 'copy' } });
    const gone = await api(p, 'GET', `/v1/projects/${project}/volumes/copy`);
    assert.equal(gone.status, 404);
  });
});
