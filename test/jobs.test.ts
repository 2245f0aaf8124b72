/**
 * Jobs: the store on SQLite and PostgreSQL, then a real platform running manual and cron jobs from a build,
 * retries, deadlines, concurrency policy, and one-off runs of a service's release.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { ConflictError, NotFoundError } from '../src/errors/errors.ts';
import { dueTick, type RunSpec } from '../src/jobs/job.ts';

const runSpec: RunSpec = { command: ['/bin/sh', '-c', 'true'], plan: 'nf-compute-20', backoffLimit: 0, activeDeadlineSeconds: null, gracePeriodSeconds: 5 };

for (const dbId of SUPPORTED_DATABASES) {
  describe(`jobs store on ${dbId}`, () => {
    it('stores jobs with their environment sealed, numbers runs per job and makes one run per cron tick', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        const job = await store.jobs.create({ projectId: 'p', id: 'nightly', kind: 'cron', spec: { name: 'nightly', billing: { deploymentPlan: 'nf-compute-20' }, schedule: '*/2 * * * * *', runtimeEnvironment: { DB_PASSWORD: 'job-secret-77' } } });
        await assert.rejects(store.jobs.create({ projectId: 'p', id: 'nightly', kind: 'manual', spec: { name: 'nightly', billing: { deploymentPlan: 'nf-compute-20' } } }), ConflictError);
        const raw = await store.db.selectFrom('jobs').selectAll().executeTakeFirstOrThrow();
        assert.ok(!JSON.stringify(raw).includes('job-secret-77'));
        assert.equal((await store.jobs.get('p', 'nightly')).spec.runtimeEnvironment?.DB_PASSWORD, 'job-secret-77');
        assert.deepEqual((await store.jobs.listCron()).map((j) => j.id), ['nightly']);

        // Claiming a tick succeeds once, from the value read.
        assert.equal(await store.jobs.claimTick('p', 'nightly', job.lastTickAt, '2030-01-01T00:00:00.000Z'), true);
        assert.equal(await store.jobs.claimTick('p', 'nightly', job.lastTickAt, '2030-01-01T00:00:00.000Z'), false);

        const mk = (tick?: string) =>
          store.jobs.createRun({ projectId: 'p', ownerKind: 'job', jobId: 'nightly', id: (n) => `p--nightly--job-${n}-x${tick ? 't' : 'm'}${Math.random().toString(36).slice(2, 6)}`, logPath: (id) => `/tmp/${id}`, spec: runSpec, secrets: { env: { RUN_SECRET: 'run-secret-55' }, files: {} }, scheduleTick: tick });
        const runs = await Promise.all([mk(), mk(), mk('2030-01-01T00:00:00.000Z')]);
        assert.deepEqual(runs.map((r) => r.number).sort(), [1, 2, 3]);
        await assert.rejects(mk('2030-01-01T00:00:00.000Z'), ConflictError);
        assert.ok((await store.db.selectFrom('job_runs').select('secrets').execute()).every((r) => !r.secrets.includes('run-secret-55')));
        assert.deepEqual((await store.jobs.listRuns('p', 'job', 'nightly', { limit: 10 })).map((r) => r.number), [3, 2, 1]);
        assert.equal((await store.jobs.listActive()).length, 3);

        // Status moves only from the status the caller names.
        const first = runs.find((r) => r.number === 1)!;
        assert.equal(await store.jobs.updateRun(first.id, { status: 'FAILED', exitCode: 3, attempts: 2, finishedAt: new Date().toISOString() }, ['PENDING', 'RUNNING']), true);
        assert.equal(await store.jobs.updateRun(first.id, { status: 'SUCCEEDED' }, ['PENDING', 'RUNNING']), false);
        const back = await store.jobs.getRun('p', 'job', 'nightly', first.id);
        assert.equal(back.status, 'FAILED');
        assert.equal(back.exitCode, 3);
        assert.equal(back.secrets.env.RUN_SECRET, 'run-secret-55');
        await assert.rejects(store.jobs.getRun('p', 'service', 'nightly', first.id), NotFoundError);

        await store.jobs.delete('p', 'nightly');
        await assert.rejects(store.jobs.get('p', 'nightly'), NotFoundError);
        assert.equal((await store.jobs.listActive()).length, 0);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('cron ticks', () => {
  it('finds the newest due tick after the last one, seconds included', () => {
    const at = (s: string) => new Date(`2030-01-01T00:00:${s}.000Z`);
    assert.equal(dueTick('*/2 * * * * *', at('00'), at('01'))?.toISOString(), undefined);
    assert.equal(dueTick('*/2 * * * * *', at('00'), at('02'))?.toISOString(), at('02').toISOString());
    assert.equal(dueTick('*/2 * * * * *', at('00'), at('07'))?.toISOString(), at('06').toISOString());
    assert.equal(dueTick('* * * * *', at('00'), at('59')), undefined);
  });
});
