/**
 * Jobs: the store on SQLite and PostgreSQL, then a real platform running manual and cron jobs from a build,
 * retries, deadlines, concurrency policy, and one-off runs of a service's release.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { api, fixtureRepo, instancePids, northflankClient, pidAlive, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { ConflictError, NotFoundError } from '../src/errors/errors.ts';
import { attemptInstanceId, dueTick, type RunSpec } from '../src/domain/job.ts';

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

describe('jobs on a real platform', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const billing = { deploymentPlan: 'nf-compute-10' };
  const source = { internal: { id: 'tools' } };
  const runs = async (job: string) => (await api(p, 'GET', `/v1/projects/jobs/jobs/${job}/runs`)).body.data.runs as Record<string, any>[];
  const run = async (job: string, id: string) => (await api(p, 'GET', `/v1/projects/jobs/jobs/${job}/runs/${id}`)).body.data as Record<string, any>;
  const concluded = (job: string, id: string) => waitFor(async () => ((await run(job, id)).concluded ? run(job, id) : undefined), 60_000, `run ${id} concluded`);
  const logs = async (job: string, id: string) => (await api(p, 'GET', `/projects/jobs/jobs/${job}/runs/${id}/logs`)).body.lines as { attempt: number; line: string }[];

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'jobs' })).status, 200);
    const b = await api(p, 'POST', '/v1/projects/jobs/services/build', { name: 'tools', vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' } });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/jobs/services/tools/build')).body.data.builds.some((x: { status: string }) => x.status === 'SUCCESS'), 120_000, 'tools build');
  });
  after(async () => {
    await p?.stop();
  });

  it('runs a manual job from a build, records a failing command with its exit code and output, and retries it backoffLimit times', async () => {
    const created = await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'boom', billing, deployment: { ...source, buildpack: { configType: 'customCommand', customCommand: "sh -c 'echo boom; exit 3'" } }, backoffLimit: 2 });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.data.jobType, 'manual');
    const started = await api(p, 'POST', '/v1/projects/jobs/jobs/boom/runs', {});
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const done = await concluded('boom', started.body.data.id);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.runStatus, 'FAILED');
    assert.equal(done.exitCode, 3);
    assert.equal(done.attempts, 3);
    const lines = await logs('boom', done.id);
    assert.deepEqual(lines.filter((l) => l.line === 'boom').map((l) => l.attempt), [1, 2, 3]);
    assert.equal((await runs('boom')).length, 1);

    // The same job succeeds with a command override, and its env override reaches the command.
    const ok = await api(p, 'POST', '/v1/projects/jobs/jobs/boom/runs', { command: 'echo "value=$JOB_VALUE"', runtimeEnvironment: { JOB_VALUE: 'forty-two' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const okDone = await concluded('boom', ok.body.data.id);
    assert.equal(okDone.status, 'SUCCESS');
    assert.equal(okDone.exitCode, 0);
    assert.ok((await logs('boom', okDone.id)).some((l) => l.line === 'value=forty-two'));
    assert.deepEqual((await runs('boom')).map((r) => r.number), [2, 1]);
  });

  it('kills a run at its activeDeadlineSeconds and records a failure', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'sleepy', billing, deployment: source, command: 'echo sleeping; sleep 600', activeDeadlineSeconds: 1, backoffLimit: 3 })).status, 200);
    const started = await api(p, 'POST', '/v1/projects/jobs/jobs/sleepy/runs', null);
    const done = await concluded('sleepy', started.body.data.id);
    assert.equal(done.status, 'FAILED');
    assert.match(done.message, /DeadlineExceeded/);
    assert.equal(done.attempts, 1);
    assert.ok((await logs('sleepy', done.id)).some((l) => l.line === 'sleeping'));
    // Nothing of the run is left running.
    await waitFor(async () => !(await api(p, 'GET', '/v1/projects/jobs/jobs/sleepy/runs')).body.data.runs.some((r: { active: number }) => r.active), 30_000, 'no active run');
  });

  it('starts a cron job with a seconds schedule on every tick', async () => {
    const created = await api(p, 'POST', '/v1/projects/jobs/jobs/cron', { name: 'ticker', billing, deployment: source, command: 'echo tick', schedule: '*/2 * * * * *' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const list = await waitFor(async () => {
      const rs = await runs('ticker');
      return rs.filter((r) => r.status === 'SUCCESS').length >= 2 ? rs : undefined;
    }, 60_000, 'two scheduled runs');
    const ticks = list.map((r) => r.scheduledFor as string);
    assert.equal(new Set(ticks).size, ticks.length, 'one run per tick');
    assert.ok(ticks.every((t) => new Date(t).getUTCSeconds() % 2 === 0));
    assert.ok((await logs('ticker', list.at(-1)!.id)).some((l) => l.line === 'tick'));
    const suspended = await api(p, 'POST', '/v1/projects/jobs/jobs/ticker/suspend', { suspended: true });
    assert.equal(suspended.body.data.suspended, true);
    assert.equal((await api(p, 'DELETE', '/v1/projects/jobs/jobs/ticker')).status, 200);
    assert.equal((await api(p, 'GET', '/v1/projects/jobs/jobs/ticker')).status, 404);
  });

  it('skips a tick while a run is active under concurrencyPolicy forbid', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects/jobs/jobs/cron', { name: 'single', billing, deployment: source, command: 'sleep 5', schedule: '*/2 * * * * *', concurrencyPolicy: 'forbid' })).status, 200);
    const list = await waitFor(async () => {
      const rs = await runs('single');
      return rs.filter((r) => r.concluded).length >= 2 ? rs : undefined;
    }, 90_000, 'two forbid runs concluded');
    await api(p, 'POST', '/v1/projects/jobs/jobs/single/suspend', { suspended: true });
    const byNumber = [...list].sort((a, b) => a.number - b.number);
    // Never two at once: each run started after the one before concluded, so the ticks in between were skipped.
    for (let i = 1; i < byNumber.length; i++) {
      assert.ok(Date.parse(byNumber[i].startedAt) >= Date.parse(byNumber[i - 1].concludedAt), 'runs do not overlap');
      assert.ok(Date.parse(byNumber[i].scheduledFor) - Date.parse(byNumber[i - 1].scheduledFor) > 2000, 'a tick was skipped');
    }
  });

  it('runs a one-off command from a service release with an environment override', async () => {
    const svc = await api(p, 'POST', '/v1/projects/jobs/services/deployment', { name: 'web', billing, deployment: { instances: 0, internal: { id: 'tools' } }, runtimeEnvironment: { GREETING: 'from-release', KEEP: 'kept' } });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    await waitFor(async () => (await api(p, 'GET', '/projects/jobs/services/web/releases')).body.releases.length > 0, 60_000, 'a release');
    const started = await api(p, 'POST', '/projects/jobs/services/web/runs', { command: 'echo "$GREETING $KEEP $SLIPWAY_RELEASE"', env: { GREETING: 'overridden' } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const done = await waitFor(async () => {
      const r = (await api(p, 'GET', `/projects/jobs/services/web/runs/${started.body.id}`)).body;
      return r.status === 'SUCCEEDED' || r.status === 'FAILED' ? r : undefined;
    }, 60_000, 'service run');
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.exitCode, 0);
    const lines = (await api(p, 'GET', `/projects/jobs/services/web/runs/${done.id}/logs`)).body.lines as { line: string }[];
    assert.ok(lines.some((l) => l.line === 'overridden kept 1'), JSON.stringify(lines));
  });

  it('adopts a running run after a control-plane restart and finishes it once', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'survivor', billing, deployment: source, command: 'echo started; sleep 3; echo finished' })).status, 200);
    const started = await api(p, 'POST', '/v1/projects/jobs/jobs/survivor/runs', {});
    await waitFor(async () => (await logs('survivor', started.body.data.id)).some((l) => l.line === 'started'), 30_000, 'run started');
    await p.kill9();
    await p.restart();
    const done = await concluded('survivor', started.body.data.id);
    assert.equal(done.status, 'SUCCESS');
    assert.equal(done.attempts, 1);
    const lines = (await logs('survivor', done.id)).map((l) => l.line);
    assert.deepEqual(lines, ['started', 'finished']);
  });

  it('aborts a running run through the official client: it concludes FAILED at once, its process stops, its output stays', async () => {
    const nf = await northflankClient(p);
    await nf.create.job.manual({ parameters: { projectId: 'jobs' }, data: { name: 'long-haul', billing, deployment: source, command: 'echo working; sleep 600', backoffLimit: 3 } as never });
    const started = await nf.start.job.run({ parameters: { projectId: 'jobs', jobId: 'long-haul' }, data: {} });
    const id = started.data.id as string;
    await waitFor(async () => (await logs('long-haul', id)).some((l) => l.line === 'working'), 30_000, 'the run working');
    const pids = instancePids(p.dataDir, attemptInstanceId({ id }, 1));
    assert.ok(pids.length > 0 && pids.every(pidAlive), 'the run has a live process');

    const aborted = await nf.abort.job.run({ parameters: { projectId: 'jobs', jobId: 'long-haul', runId: id } });
    assert.equal(aborted.data.status, 'FAILED');
    assert.equal(aborted.data.concluded, true);
    assert.match(aborted.data.message, /^Aborted: .*during attempt 1/);
    // The controller stops the process (grace period, then kill) and keeps what it wrote; no retry follows.
    await waitFor(() => pids.every((pid) => !pidAlive(pid)), 30_000, 'the run process gone');
    await waitFor(async () => (await logs('long-haul', id)).some((l) => l.line === 'working'), 30_000, 'the output kept');
    const after_ = await run('long-haul', id);
    assert.equal(after_.attempts, 1);
    assert.equal(after_.status, 'FAILED');

    const again = await api(p, 'DELETE', `/v1/projects/jobs/jobs/long-haul/runs/${id}`);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.match(again.body.error.message, /already concluded/);
    assert.equal((await api(p, 'DELETE', '/v1/projects/jobs/jobs/long-haul/runs/no-such-run')).status, 404);
  });

  it('patches a job through the official client: the next run uses the new settings, runs made before keep theirs', async () => {
    const nf = await northflankClient(p);
    await nf.create.job.manual({ parameters: { projectId: 'jobs' }, data: { name: 'reporter', billing, deployment: source, command: 'echo "mode=$MODE"', runtimeEnvironment: { MODE: 'draft' } } as never });
    const first = await api(p, 'POST', '/v1/projects/jobs/jobs/reporter/runs', {});
    assert.equal((await concluded('reporter', first.body.data.id)).status, 'SUCCESS');

    const patched = await nf.patch.job({
      parameters: { projectId: 'jobs', jobId: 'reporter' },
      data: { description: 'Reports', runtimeEnvironment: { MODE: 'final' }, settings: { backoffLimit: 2, activeDeadlineSeconds: 120 } },
    });
    assert.equal(patched.data.description, 'Reports');
    assert.equal(patched.data.name, 'reporter');
    assert.deepEqual(patched.data.settings, { backoffLimit: 2, activeDeadlineSeconds: 120, runOnSourceChange: 'never' });
    assert.deepEqual((patched.data as Record<string, unknown>).runtimeEnvironmentKeys, ['MODE'], 'the names alone');
    assert.equal(JSON.stringify(patched.data).includes('final'), false, 'environment values are never read back');

    const second = await api(p, 'POST', '/v1/projects/jobs/jobs/reporter/runs', {});
    const done = await concluded('reporter', second.body.data.id);
    assert.equal(done.backoffLimit, 2);
    assert.ok((await logs('reporter', done.id)).some((l) => l.line === 'mode=final'));
    assert.ok((await logs('reporter', first.body.data.id)).some((l) => l.line === 'mode=draft'), 'the earlier run keeps its output');

    // One part at a time, as the client's job part endpoints do it.
    const ids = { projectId: 'jobs', jobId: 'reporter' };
    assert.deepEqual((await nf.get.job.runtimeEnvironment({ parameters: ids })).data.runtimeEnvironment, { MODE: 'final' });
    await nf.update.job.runtimeEnvironment({ parameters: ids, data: { runtimeEnvironment: { MODE: 'part' } } });
    const settings = await nf.update.job.settings({ parameters: ids, data: { backoffLimit: 1 } });
    assert.equal(settings.data.backoffLimit, 1);
    await nf.update.job.deployment({ parameters: ids, data: { internal: { id: 'tools' }, buildpack: { configType: 'customCommand', customCommand: 'echo "part=$MODE"' } } as never });
    assert.deepEqual((await nf.get.job.deployment({ parameters: ids })).data.buildpack, { configType: 'customCommand', customCommand: 'echo "part=$MODE"' });
    const third = await api(p, 'POST', '/v1/projects/jobs/jobs/reporter/runs', {});
    assert.equal(third.status, 200, JSON.stringify(third.body));
    const thirdDone = await concluded('reporter', third.body.data.id);
    assert.equal(thirdDone.backoffLimit, 1);
    // The job's own command still runs (it takes precedence over a buildpack override), with the new environment.
    assert.ok((await logs('reporter', thirdDone.id)).some((l) => l.line === 'mode=part'));

    // A cron job's schedule through its kind's route; a manual job takes no schedule; bad fields are named.
    await nf.create.job.cron({ parameters: { projectId: 'jobs' }, data: { name: 'weekly', billing, deployment: source, command: 'true', schedule: '0 3 * * 1', suspended: true } as never });
    const cron = await nf.patch.job.cron({ parameters: { projectId: 'jobs', jobId: 'weekly' }, data: { schedule: '30 4 * * 2', concurrencyPolicy: 'forbid' } });
    assert.equal(cron.data.schedule, '30 4 * * 2');
    assert.equal(cron.data.concurrencyPolicy, 'forbid');
    assert.equal(cron.data.suspended, true);
    const wrongKind = await api(p, 'PATCH', '/v1/projects/jobs/jobs/manual/weekly', { description: 'x' });
    assert.equal(wrongKind.status, 400, JSON.stringify(wrongKind.body));
    assert.ok(wrongKind.body.error.details.jobId);
    const manualSchedule = await api(p, 'PATCH', '/v1/projects/jobs/jobs/reporter', { settings: { cron: { schedule: '* * * * *' } } });
    assert.equal(manualSchedule.status, 400);
    assert.ok(manualSchedule.body.error.details.schedule);
    const badSchedule = await api(p, 'PATCH', '/v1/projects/jobs/jobs/weekly', { settings: { cron: { schedule: '99 * * * *' } } });
    assert.equal(badSchedule.status, 400);
    assert.ok(badSchedule.body.error.details.schedule);
    const badPlan = await api(p, 'PATCH', '/v1/projects/jobs/jobs/reporter', { billing: { deploymentPlan: 'nf-nonexistent' } });
    assert.equal(badPlan.status, 400);
    assert.ok(badPlan.body.error.details['billing.deploymentPlan']);
    const unknownField = await api(p, 'PATCH', '/v1/projects/jobs/jobs/reporter', { name: 'renamed' });
    assert.equal(unknownField.status, 400);
    assert.equal((await api(p, 'PATCH', '/v1/projects/jobs/jobs/missing', { description: 'x' })).status, 404);
    assert.equal((await api(p, 'GET', '/v1/projects/jobs/jobs/reporter')).body.data.settings.backoffLimit, 1, 'refused patches changed nothing');
  });

  it('creates a job of either kind from the neutral create, and replaces one by PUT, through the official client', async () => {
    const nf = await northflankClient(p);
    const cron = await nf.create.job({ parameters: { projectId: 'jobs' }, data: { name: 'neutral-cron', billing, deployment: source, settings: { backoffLimit: 0, cron: { schedule: '0 5 * * *', suspended: true } } } as never });
    assert.equal(cron.data.jobType, 'cron');
    assert.equal((cron.data as Record<string, unknown>).schedule, '0 5 * * *');
    const manual = await nf.create.job({ parameters: { projectId: 'jobs' }, data: { name: 'neutral-manual', billing, deployment: source, settings: { backoffLimit: 2 } } as never });
    assert.equal(manual.data.jobType, 'manual');
    assert.equal((manual.data as Record<string, unknown>).backoffLimit, 2);

    // PUT of an existing name replaces the whole spec (what is not sent is gone); a new name creates.
    const replaced = await nf.put.job.manual({ parameters: { projectId: 'jobs' }, data: { name: 'neutral-manual', billing, deployment: source, command: 'echo replaced', backoffLimit: 0 } as never });
    assert.equal((replaced.data as Record<string, unknown>).backoffLimit, 0);
    assert.equal((replaced.data as Record<string, unknown>).command, 'echo replaced');
    const run = await api(p, 'POST', '/v1/projects/jobs/jobs/neutral-manual/runs', {});
    assert.ok((await logs('neutral-manual', (await concluded('neutral-manual', run.body.data.id)).id)).some((l) => l.line === 'replaced'));
    const created = await nf.put.job.cron({ parameters: { projectId: 'jobs' }, data: { name: 'put-cron', billing, deployment: source, schedule: '0 6 * * *', suspended: true, backoffLimit: 0 } as never });
    assert.equal(created.data.jobType, 'cron');
    const wrongKind = await api(p, 'PUT', '/v1/projects/jobs/jobs/cron', { name: 'neutral-manual', billing, deployment: source, schedule: '* * * * *' });
    assert.equal(wrongKind.status, 400, JSON.stringify(wrongKind.body));
    assert.ok(wrongKind.body.error.details.name);
    assert.equal((await api(p, 'GET', '/v1/projects/jobs/jobs/neutral-manual')).body.data.jobType, 'manual');
  });

  it('refuses bad input with 4xx naming the field', async () => {
    const badCron = await api(p, 'POST', '/v1/projects/jobs/jobs/cron', { name: 'bad-cron', billing, deployment: source, schedule: '61 * * * *' });
    assert.equal(badCron.status, 400);
    assert.ok(badCron.body.error.details.schedule);
    const noSource = await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'nosrc', billing, deployment: { internal: { id: 'missing' } } });
    assert.equal(noSource.status, 400);
    assert.ok(noSource.body.error.details['deployment.internal.id']);
    const image = await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'from-image', billing, deployment: { external: { imagePath: 'registry.local/tool:1' } } });
    assert.equal(image.status, 422, 'the process runtime runs no images');
    assert.ok(image.body.error.details['deployment.external']);
    const both = await api(p, 'POST', '/v1/projects/jobs/jobs/manual', { name: 'both', billing, deployment: { ...source, external: { imagePath: 'registry.local/tool:1' } } });
    assert.equal(both.status, 400);
    const badPolicy = await api(p, 'POST', '/v1/projects/jobs/jobs/cron', { name: 'bad-policy', billing, deployment: source, schedule: '* * * * *', concurrencyPolicy: 'sometimes' });
    assert.equal(badPolicy.status, 400);
    assert.ok(badPolicy.body.error.details.concurrencyPolicy);
    const badEnv = await api(p, 'POST', '/projects/jobs/services/web/runs', { env: { 'bad key': 'x' } });
    assert.equal(badEnv.status, 400);
    assert.ok(badEnv.body.errors.some((e: { field: string }) => e.field.startsWith('env')));
    assert.equal((await api(p, 'GET', '/v1/projects/jobs/jobs/boom/runs/nope')).status, 404);
  });
});
