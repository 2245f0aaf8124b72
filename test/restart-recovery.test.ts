/**
 * The control plane killed with SIGKILL while 3 instances run: the instances keep serving, and after a
 * restart the same 3 are adopted (or replaced), state is intact and no orphan process remains.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { api, fixtureRepo, instancePids, pidAlive, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

/** Every process on the machine whose command line or environment names this data directory's instances. */
function processesOf(ids: string[]): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (ids.some((id) => cmd.includes(id) || env.includes(`SLIPWAY_INSTANCE=${id}`))) out.push(Number(pid));
    } catch {}
  }
  return out;
}

describe('control plane killed with SIGKILL', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');

  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  it('adopts the 3 running instances after a restart and leaves no orphans', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'crash' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/crash/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 3 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { buildpack: { builder: 'HEROKU_24' } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/crash/services/web')).body.data.status.deployment.status === 'COMPLETED', 120_000, 'COMPLETED');
    const before_ = (await api(p, 'GET', '/v1/projects/crash/services/web/containers')).body.data.containers.map((c: { name: string }) => c.name).sort();
    assert.equal(before_.length, 3);
    const pidsBefore = before_.flatMap((id: string) => instancePids(p.dataDir, id));
    assert.ok(pidsBefore.length >= 3);

    await p.kill9();
    // The instances outlive the control plane.
    assert.ok(pidsBefore.every(pidAlive), 'instances survive the control plane');

    await p.restart();
    await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/crash/services/web/containers')).body.data.containers;
      return c.length === 3 && c.every((x: { ready: boolean }) => x.ready);
    }, 60_000, '3 ready instances after restart');
    const after_ = (await api(p, 'GET', '/v1/projects/crash/services/web/containers')).body.data.containers.map((c: { name: string }) => c.name).sort();
    assert.deepEqual(after_, before_, 'the same instances are adopted');
    const svc = (await api(p, 'GET', '/v1/projects/crash/services/web')).body.data;
    assert.equal(svc.deployment.instances, 3);
    assert.equal(svc.status.deployment.status, 'COMPLETED');
    // The data plane is told asynchronously (HAProxy applies after the pass): wait for it to serve.
    await waitFor(async () => (await viaRouter(p, 'web.crash.localhost')).status === 200, 30_000, 'routed after restart');

    // No duplicates: exactly one app process per instance (and what it started), nothing else.
    await new Promise((r) => setTimeout(r, 1500));
    const procs = processesOf(before_);
    const expected = before_.flatMap((id: string) => instancePids(p.dataDir, id));
    assert.deepEqual([...new Set(procs.filter((x) => !expected.includes(x)).filter((pid) => {
      // a process spawned by an instance's app (e.g. sh -c wrapper) is part of it, not an orphan
      try {
        const ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
        return !procs.includes(ppid) && !expected.includes(ppid);
      } catch {
        return false;
      }
    }))], [], 'no orphan processes');

    // Deleting the service stops every instance process.
    assert.equal((await api(p, 'DELETE', '/v1/projects/crash/services/web')).status, 200);
    await waitFor(() => processesOf(before_).length === 0, 30_000, 'all instance processes gone');
  });
});
