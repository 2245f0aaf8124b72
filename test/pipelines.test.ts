/**
 * Pipelines and release flows end to end, through the official Northflank client where it has the call: a
 * build service, staging and production deployment services, a PostgreSQL addon and jobs in a pipeline. The
 * production flow backs the addon up, runs a migration job, then promotes staging's build, with production
 * serving under load and no failed request; a failing migration promotes nothing; a rollback of the stage to
 * the first run brings its build back; expand/contract job nodes run in order around the promotion, and on a
 * failed promotion the contract step is skipped and the revert-expand step runs; a webhook call runs a flow,
 * an aborted run stops its running job, a run survives a control-plane kill -9; a git push to a hosted
 * repository runs the staging flow.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, routerLoad, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { waitForAddonStatus } from './support/addons.ts';
import os from 'node:os';
import { assertCliOk, runCli } from './support/cli.ts';

const project = 'flows';
const PROD_HOST = 'web-prod.flows.localhost';
const STAGING_HOST = 'web-staging.flows.localhost';

describe('pipelines and release flows', () => {
  let p: RunningPlatform;
  let nf: ApiClient;
  const repo = fixtureRepo('hello');
  const billing = { deploymentPlan: 'nf-compute-10' };
  const params = (stage: string) => ({ projectId: project, pipelineId: 'shop', stage });
  const runs: Record<string, string> = {};

  /** Commit a version whose app answers `message` (and, for `failIn`, fails readiness in that service), and build it. */
  async function release(message: string, failIn?: string): Promise<string> {
    repo.commit(message, (dir) => {
      let src = fs.readFileSync(path.join(dir, 'server.js'), 'utf8').replace(/process\.env\.GREETING \?\? '[^']*'/, `process.env.GREETING ?? '${message}'`);
      src = src.replace(/if \(req\.url === '\/health'\) \{\n/, `if (req.url === '/health') {\n    if (${JSON.stringify(failIn ?? '')} === process.env.SLIPWAY_SERVICE) { res.writeHead(500); return res.end('no'); }\n`);
      fs.writeFileSync(path.join(dir, 'server.js'), src);
    });
    const b = await nf.start.service.build({ parameters: { projectId: project, serviceId: 'builder' }, data: { branch: 'main' } as never });
    const id = (b.data as { id: string }).id;
    await waitFor(async () => {
      const s = (await nf.get.service.build({ parameters: { projectId: project, serviceId: 'builder', buildId: id } })).data as { status: string };
      if (s.status === 'FAILURE') throw new Error(`build ${id} failed`);
      return s.status === 'SUCCESS';
    }, 300_000, `build of ${message}`);
    return id;
  }
  const says = async (host: string) => JSON.parse(await (await viaRouter(p, host)).text()).message as string;
  async function completed(serviceId: string) {
    await waitFor(async () => {
      const st = ((await nf.get.service({ parameters: { projectId: project, serviceId } })).data as any).status?.deployment?.status;
      return st === 'COMPLETED';
    }, 180_000, `${serviceId} COMPLETED`);
  }
  async function runFlow(stage: string, data: Record<string, unknown> = {}): Promise<string> {
    const r = await nf.run.releaseFlow({ parameters: params(stage), data });
    return (r.data as { id: string }).id;
  }
  async function concluded(stage: string, runId: string, timeoutMs = 300_000) {
    return waitFor(async () => {
      const r = (await nf.get.releaseFlowRun({ parameters: { ...params(stage), runId } })).data;
      return r.concluded ? r : undefined;
    }, timeoutMs, `run ${runId} concluded`);
  }
  const nodesOf = async (stage: string, runId: string) => (await api(p, 'GET', `/projects/${project}/pipelines/shop/stages/${stage}/release-flow/runs/${runId}`)).body.nodes as any[];
  const byRef = (nodes: any[], ref: string) => nodes.find((n) => n.ref === ref);

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '40' });
    nf = await northflankClient(p);
    await nf.create.project({ data: { name: project } });
    await nf.create.service.build({ parameters: { projectId: project }, data: { name: 'builder', billing: {}, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: {} } } as never });
    await waitFor(async () => (await nf.get.service.builds({ parameters: { projectId: project, serviceId: 'builder' } })).data.builds.find((b: any) => b.status === 'SUCCESS'), 300_000, 'first build');
    const first = (await nf.get.service.builds({ parameters: { projectId: project, serviceId: 'builder' } })).data.builds[0].id;
    const web = (name: string, instances: number, internal: Record<string, string>) => ({
      name,
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances, internal },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
    });
    await nf.create.service.deployment({ parameters: { projectId: project }, data: web('web-staging', 1, { id: 'builder', branch: 'main' }) as never });
    // Production is pinned to a build: only its release flow moves it.
    await nf.create.service.deployment({ parameters: { projectId: project }, data: web('web-prod', 2, { id: 'builder', buildId: first }) as never });
    await nf.create.addon({ parameters: { projectId: project }, data: { name: 'database', type: 'postgresql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } } as never });
    const job = (name: string, command: string) => nf.create.job.manual({ parameters: { projectId: project }, data: { name, billing, deployment: { internal: { id: 'builder' } }, command } as never });
    await job('migrate', 'echo "migrating, fail=$FAIL"; test "$FAIL" != 1');
    await job('slow', 'echo working; sleep 600');
    await job('expand', 'echo expand');
    await job('contract', 'echo contract');
    await job('revert', 'echo revert');
    await completed('web-staging');
    await completed('web-prod');
    await waitForAddonStatus(nf, project, 'database', 'running');
    assert.equal(await says(PROD_HOST), 'hello');
  });
  after(async () => {
    await p?.stop();
  });

  it('keeps a pipeline in Northflank\'s shape and refuses what its rules forbid, naming the field', async () => {
    const bad = await api(p, 'POST', `/v1/projects/${project}/pipelines`, { name: 'shop', nfObjects: [{ id: 'builder', type: 'service', stage: 'Development' }, { id: 'nope', type: 'job', stage: 'Staging' }] });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(bad.body.error.details['nfObjects[0].id'][0], /build services are not added/);
    assert.match(bad.body.error.details['nfObjects[1].id'][0], /no job 'nope'/);
    const twice = await api(p, 'POST', `/v1/projects/${project}/pipelines`, { name: 'shop', nfObjects: [{ id: 'web-prod', type: 'service', stage: 'Staging' }, { id: 'web-prod', type: 'service', stage: 'Production' }] });
    assert.ok(twice.body.error.details['nfObjects[1].id'], JSON.stringify(twice.body));
    assert.equal((await nf.list.pipelines({ parameters: { projectId: project } })).data.pipelines.length, 0, 'nothing half-created');
    const made = await api(p, 'POST', `/v1/projects/${project}/pipelines`, {
      name: 'shop',
      description: 'the shop',
      nfObjects: [
        { id: 'web-staging', type: 'service', stage: 'Staging' },
        { id: 'slow', type: 'job', stage: 'Staging' },
        { id: 'web-prod', type: 'service', stage: 'Production' },
        { id: 'database', type: 'addon', stage: 'Production' },
        { id: 'migrate', type: 'job', stage: 'Production' },
      ],
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const other = await api(p, 'POST', `/v1/projects/${project}/pipelines`, { name: 'other', nfObjects: [{ id: 'web-prod', type: 'service', stage: 'Production' }] });
    assert.match(other.body.error.details['nfObjects[0].id'][0], /already in pipeline 'shop'/);
    const patched = await api(p, 'PATCH', `/v1/projects/${project}/pipelines/shop`, { nfObjects: [...made.body.data.nfObjects, ...['expand', 'contract', 'revert'].map((id) => ({ id, type: 'job', stage: 'Production' }))] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const got = (await nf.get.pipeline({ parameters: { projectId: project, pipelineId: 'shop' } })).data;
    assert.equal(got.name, 'shop');
    assert.deepEqual(got.nfObjects?.filter((o) => o.stage === 'Staging').map((o) => o.id), ['web-staging', 'slow']);
    assert.deepEqual((await nf.list.pipelines({ parameters: { projectId: project } })).data.pipelines.map((x) => x.id), ['shop']);
  });

  it('refuses a bad release flow spec at update with the path of the bad node', async () => {
    const url = `/v1/projects/${project}/pipelines/shop/release-flows/Production`;
    const flow = (steps: unknown[]) => ({ apiVersion: 'v1.2', spec: { kind: 'Workflow', spec: { type: 'sequential', steps } } });
    const cases: [unknown[], string, RegExp][] = [
      [[{ kind: 'AddonBackup', spec: { addonId: 'database' } }, { kind: 'Teleport', spec: {} }], 'spec.spec.steps[1].kind', /unknown node kind/],
      [[{ kind: 'JobRun', spec: { jobId: 'ghost' } }], 'spec.spec.steps[0].spec.jobId', /no job 'ghost'/],
      [[{ kind: 'JobRun', spec: { jobId: 'slow' } }], 'spec.spec.steps[0].spec.jobId', /in the Staging stage/],
      [[{ kind: 'JobRun', ref: 'm', spec: { jobId: 'migrate', runtimeEnvironment: { X: '${refs.nowhere.id}' } } }], 'spec.spec.steps[0].spec.runtimeEnvironment.X', /no node has ref 'nowhere'/],
      [[{ kind: 'JobRun', ref: 'a', spec: { jobId: 'migrate', runtimeEnvironment: { X: '${refs.b.id}' } } }, { kind: 'JobRun', ref: 'b', spec: { jobId: 'migrate' } }], 'spec.spec.steps[0]', /wait for each other/],
      [[{ kind: 'Release', spec: { type: 'deployment', origin: { id: 'web-prod', type: 'service' }, target: { id: 'web-staging', type: 'service' } } }], 'spec.spec.steps[0].spec.target.id', /in the Staging stage/],
    ];
    for (const [steps, field, message] of cases) {
      const res = await api(p, 'POST', url, flow(steps));
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.details?.[field], `${field} named in ${JSON.stringify(res.body.error.details)}`);
      assert.match(res.body.error.details[field][0], message);
    }
    assert.equal((await api(p, 'GET', url)).status, 404, 'no flow saved');
  });

  it('backs up the addon, runs the migration, then promotes staging\'s build to production with no failed request', async () => {
    await nf.update.releaseFlow({
      parameters: params('Production'),
      data: {
        apiVersion: 'v1.2',
        arguments: { FAIL: '0' },
        spec: {
          kind: 'Workflow',
          spec: {
            type: 'sequential',
            steps: [
              { kind: 'AddonBackup', ref: 'backup', spec: { addonId: 'database', backupType: 'dump' }, condition: 'success' },
              { kind: 'JobRun', ref: 'migration', spec: { jobId: 'migrate', runtimeEnvironment: { FAIL: '${args.FAIL}' } }, condition: 'success' },
              { kind: 'Release', ref: 'promote', spec: { type: 'deployment', origin: { id: 'web-staging', type: 'service' }, target: { id: 'web-prod', type: 'service' } } },
            ],
          },
        },
      },
    });
    const flow = (await nf.get.releaseFlow({ parameters: params('Production') })).data;
    assert.equal(flow.stage, 'Production');
    await release('v2');
    await waitFor(async () => (await says(STAGING_HOST)) === 'v2', 120_000, 'staging serves v2');
    const load = routerLoad(p, PROD_HOST);
    runs.first = await runFlow('Production', { name: 'first release' });
    const run = await concluded('Production', runs.first);
    await waitFor(async () => (await says(PROD_HOST)) === 'v2', 30_000, 'production serves v2');
    await load.stop();
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
    assert.ok(load.stats.seen.get('hello') && load.stats.seen.get('v2'), `served the old build, then the new: ${JSON.stringify([...load.stats.seen])}`);
    const nodes = await nodesOf('Production', runs.first);
    const [backup, migration, promote] = ['backup', 'migration', 'promote'].map((r) => byRef(nodes, r));
    assert.deepEqual([backup.status, migration.status, promote.status], ['success', 'success', 'success']);
    assert.ok(backup.concludedAt <= migration.startedAt && migration.concludedAt <= promote.startedAt, 'in sequence, each after the one before concluded');
    const backups = (await nf.get.addon.backups({ parameters: { projectId: project, addonId: 'database' } })).data.backups;
    assert.equal(backups.find((b: any) => b.id === backup.output.id)?.status, 'completed');
    assert.equal((await nf.get.job.run({ parameters: { projectId: project, jobId: 'migrate', runId: migration.output.id } })).data.status, 'SUCCESS');
    assert.equal((await nf.list.releaseFlowRuns({ parameters: params('Production') })).data.runs?.[0].id, runs.first);
  });

  it('promotes nothing when the migration job fails', async () => {
    runs.v3build = await release('v3');
    await waitFor(async () => (await says(STAGING_HOST)) === 'v3', 120_000, 'staging serves v3');
    const id = await runFlow('Production', { arguments: { FAIL: '1' } });
    const run = await concluded('Production', id);
    assert.equal(run.status, 'failure');
    const nodes = await nodesOf('Production', id);
    assert.equal(byRef(nodes, 'migration').status, 'failure');
    assert.equal(byRef(nodes, 'promote').status, 'skipped');
    assert.match(byRef(nodes, 'promote').message, /migration did not succeed/);
    assert.equal(await says(PROD_HOST), 'v2', 'production still serves the build it had');
    runs.second = await runFlow('Production');
    assert.equal((await concluded('Production', runs.second)).status, 'success');
    await waitFor(async () => (await says(PROD_HOST)) === 'v3', 30_000, 'production serves v3');
  });

  it('rolls the stage back to the state after the first run: its build comes back, as a new run that names it', async () => {
    const load = routerLoad(p, PROD_HOST);
    const res = await api(p, 'POST', `/v1/projects/${project}/pipelines/shop/stages/Production/release-flow/runs/${runs.first}/rollback`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.restoresRunId, runs.first);
    assert.match(res.body.data.message, /migrations\) and backups are not undone/);
    const run = await concluded('Production', res.body.data.id);
    await waitFor(async () => (await says(PROD_HOST)) === 'v2', 30_000, 'production serves v2 again');
    await load.stop();
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.equal(load.stats.failed, 0, `no failed request during the rollback: ${load.stats.errors.slice(0, 5).join('; ')}`);
  });

  it('runs expand before the promotion and contract after it; on a failed promotion, skips contract and runs revert-expand', async () => {
    const steps = [
      { kind: 'JobRun', ref: 'expand', spec: { jobId: 'expand' }, condition: 'success', slipway: { phase: 'expand' } },
      { kind: 'Release', ref: 'promote', spec: { type: 'deployment', origin: { id: 'web-staging', type: 'service' }, target: { id: 'web-prod', type: 'service' } } },
      { kind: 'JobRun', ref: 'contract', spec: { jobId: 'contract' }, condition: 'success', slipway: { phase: 'contract' } },
      { kind: 'JobRun', ref: 'revert', spec: { jobId: 'revert' }, condition: 'success', slipway: { phase: 'revert-expand' } },
    ];
    const wrong = await api(p, 'POST', `/v1/projects/${project}/pipelines/shop/release-flows/Production`, { apiVersion: 'v1.2', spec: { kind: 'Workflow', spec: { type: 'sequential', steps: [steps[2], steps[1]] } } });
    assert.equal(wrong.status, 400, 'a contract step before the promotion it waits for is a cycle');
    await nf.update.releaseFlow({ parameters: params('Production'), data: { apiVersion: 'v1.2', spec: { kind: 'Workflow', spec: { type: 'sequential', steps } } } });
    // v3 is on staging: the promotion succeeds.
    const good = await runFlow('Production');
    assert.equal((await concluded('Production', good)).status, 'success');
    let nodes = await nodesOf('Production', good);
    assert.ok(byRef(nodes, 'expand').concludedAt <= byRef(nodes, 'promote').startedAt, 'expand before the promotion');
    assert.ok(byRef(nodes, 'promote').concludedAt <= byRef(nodes, 'contract').startedAt, 'contract after every promoted rollout completed');
    assert.equal(byRef(nodes, 'contract').status, 'success');
    assert.equal(byRef(nodes, 'revert').status, 'skipped');
    assert.equal(await says(PROD_HOST), 'v3');
    // v4 fails readiness in production only: its rollout fails and production returns to v3.
    await release('v4', 'web-prod');
    await waitFor(async () => (await says(STAGING_HOST)) === 'v4', 120_000, 'staging serves v4');
    const bad = await runFlow('Production');
    const run = await concluded('Production', bad, 400_000);
    assert.equal(run.status, 'failure');
    nodes = await nodesOf('Production', bad);
    assert.equal(byRef(nodes, 'expand').status, 'success');
    assert.equal(byRef(nodes, 'promote').status, 'failure');
    assert.equal(byRef(nodes, 'contract').status, 'skipped');
    assert.match(byRef(nodes, 'contract').message, /contract step does not run/);
    assert.equal(byRef(nodes, 'revert').status, 'success');
    assert.ok(byRef(nodes, 'promote').concludedAt <= byRef(nodes, 'revert').startedAt, 'revert-expand after the failed promotion');
    // The failed rollout leaves the service FAILED, back on its last good release.
    await waitFor(async () => ((await nf.get.service({ parameters: { projectId: project, serviceId: 'web-prod' } })).data as any).status?.deployment?.status === 'FAILED', 60_000, 'web-prod FAILED');
    assert.equal(await says(PROD_HOST), 'v3', 'production is back on its last good release');
  });

  it('runs a flow from its webhook, keeps a run through a control-plane kill -9, and stops its running job on abort', async () => {
    await nf.update.releaseFlow({
      parameters: params('Staging'),
      data: {
        apiVersion: 'v1.2',
        options: { concurrencyPolicy: 'forbid' },
        triggers: [{ ref: 'push', vcsService: 'self-hosted', repoUrl: `${p.apiUrl}/git/${project}/site.git`, branchRestrictions: ['main'] }],
        spec: { kind: 'Workflow', spec: { type: 'sequential', steps: [{ kind: 'JobRun', ref: 'work', spec: { jobId: 'slow' }, condition: 'success' }] } },
      },
    });
    const hook = await api(p, 'GET', `/projects/${project}/pipelines/shop/stages/Staging/release-flow/webhook`);
    assert.equal(hook.body.secret, null, 'no secret in a read');
    const rotated = await api(p, 'POST', `/projects/${project}/pipelines/shop/stages/Staging/release-flow/webhook/rotate`);
    const hookUrl = new URL(rotated.body.url);
    const wrongSecret = await fetch(`${p.apiUrl}${hookUrl.pathname}?secret=nope`, { method: 'POST' });
    assert.equal(wrongSecret.status, 404);
    const called = await fetch(`${p.apiUrl}${hookUrl.pathname}${hookUrl.search}`, { method: 'POST' });
    assert.equal(called.status, 200, await called.clone().text());
    const runId = ((await called.json()) as { id: string }).id;
    const forbidden = await api(p, 'POST', `/v1/projects/${project}/pipelines/shop/release-flows/Staging/runs`, {});
    assert.equal(forbidden.status, 409, 'concurrency policy forbid refuses a second run');
    const jobRun = await waitFor(async () => byRef(await nodesOf('Staging', runId), 'work')?.output?.id as string | undefined, 60_000, 'job run started');
    await waitFor(async () => (await nf.get.job.run({ parameters: { projectId: project, jobId: 'slow', runId: jobRun } })).data.status === 'RUNNING', 60_000, 'job running');
    await p.kill9();
    await p.restart();
    nf = await northflankClient(p);
    const after = byRef(await nodesOf('Staging', runId), 'work');
    assert.equal(after.status, 'running', 'the node is still running after the restart, its job run confirmed');
    await nf.abort.releaseFlowRun({ parameters: { ...params('Staging'), runId } });
    const run = await concluded('Staging', runId);
    assert.equal(run.status, 'aborted');
    const jr = (await nf.get.job.run({ parameters: { projectId: project, jobId: 'slow', runId: jobRun } })).data;
    assert.equal(jr.concluded, true, 'the job run was stopped');
    assert.notEqual(jr.status, 'SUCCESS');
    const runsNow = (await nf.list.releaseFlowRuns({ parameters: params('Staging') })).data.runs!;
    assert.equal(runsNow.filter((r) => r.id === runId).length, 1, 'the run was not started twice');
  });

  it('runs the staging flow when a commit is pushed to the watched branch of a hosted repository', async () => {
    const hosted = `${p.apiUrl}/git/${project}/site.git`;
    await nf.create.service.build({ parameters: { projectId: project }, data: { name: 'site', billing: {}, vcsData: { projectUrl: hosted, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: {} } } as never });
    const before_ = (await nf.list.releaseFlowRuns({ parameters: params('Staging') })).data.runs!.length;
    const push = new URL(hosted);
    push.username = 'git';
    push.password = p.token;
    execFileSync('git', ['-C', repo.dir, 'push', '-q', push.toString(), 'HEAD:refs/heads/main'], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    const run = await waitFor(async () => {
      const list = (await nf.list.releaseFlowRuns({ parameters: params('Staging') })).data.runs!;
      return list.length > before_ ? list[0] : undefined;
    }, 60_000, 'a run from the push');
    const detail = (await api(p, 'GET', `/release-flow-runs/${run.id}`)).body;
    assert.equal(detail.trigger.type, 'git');
    assert.equal(detail.trigger.branch, 'main');
    assert.equal(detail.trigger.sha, repo.head());
    await nf.abort.releaseFlowRun({ parameters: { ...params('Staging'), runId: run.id } });
    assert.equal((await concluded('Staging', run.id)).status, 'aborted');
  });

  it('runs, follows and rolls back through the CLI, and shows the pipeline as a board', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-flows-'));
    const cli = (args: string[]) => runCli(args, { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, NO_COLOR: '1' } });
    try {
      // Staging runs v4 (unready in production): --build deploys the v3 build instead of promoting.
      const run = await cli(['release', 'run', 'shop', 'Production', '-p', project, '--build', `web-prod=${runs.v3build}`, '--name', 'cli run']);
      assertCliOk(run, 'release run');
      // The expand job is short: the CLI may see it running, or only its end between two reads.
      assert.match(run.stdout, /\[expand\] JobRun \(expand\): (running|success)/);
      assert.match(run.stdout, /\[promote\] Release: success/);
      assert.match(run.stdout, /\[contract\] JobRun \(contract\): success/);
      assert.match(run.stdout, /run \d+ success/);
      const back = await cli(['release', 'rollback', runs.first]);
      assertCliOk(back, 'release rollback');
      assert.match(back.stdout, /Rollback: success/);
      await waitFor(async () => (await says(PROD_HOST)) === 'v2', 30_000, 'production back on v2');
      const board = await cli(['pipelines', 'show', 'shop', '-p', project]);
      assertCliOk(board, 'pipelines show');
      assert.match(board.stdout, /Production\n\s+service web-prod: /);
      assert.match(board.stdout, /rollback to run 1/);
      const bad = await cli(['release', 'run', 'shop', 'Production', '-p', project, '--build', 'nobody=x']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /releaseNodeOverrides\.nobody/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
