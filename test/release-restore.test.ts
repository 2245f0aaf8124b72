/**
 * Releases restore everything they promise: a rollback (native route, CF revision deployment) makes the
 * rolled-back release's spec the desired one again, its build pinned, so a later unrelated change starts from
 * what runs and never rolls forward what was rolled back; a failed rollout returns the desired spec to the
 * last good release, so the next change does not retry the failed inputs. Checked through the official
 * Northflank client where it has the call, and through the router: what the app answers is what runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { runCli } from './support/cli.ts';
import { ADMIN_TOKEN, api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const PROJECT = 'restore';
const check = { protocol: 'HTTP' as const, type: 'readinessProbe' as const, path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 };

describe('releases restore their whole spec', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('hello');
  const ids = (serviceId: string) => ({ projectId: PROJECT, serviceId });
  const view = async (serviceId: string) => (await client.get.service({ parameters: ids(serviceId) })).data as any;
  /** What the app answers through the router (`message` is GREETING, with the build's suffix). */
  const served = async (serviceId: string) => {
    const res = await viaRouter(p, `${serviceId}.${PROJECT}.localhost`).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as { message: string; release: string }) : undefined;
  };
  /** Settled: the rollout done, and only `release` answering through the router with `message`. */
  const settled = (serviceId: string, release: number, message: string) =>
    waitFor(async () => {
      const v = await view(serviceId);
      if (v.status.deployment.status !== 'COMPLETED' || v.release?.number !== release) return undefined;
      for (let i = 0; i < 4; i++) {
        const s = await served(serviceId);
        if (s?.release !== String(release) || s.message !== message) return undefined;
      }
      return v;
    }, 120_000, `${serviceId} on release ${release} answering '${message}'`);
  const builds = async (serviceId: string) => (await client.get.service.builds({ parameters: ids(serviceId) })).data.builds as { id: string; sha: string; status: string }[];

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '15' });
    client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
    const service = (name: string, greeting: string) =>
      client.create.service.combined({
        parameters: { projectId: PROJECT },
        data: {
          name,
          billing: { deploymentPlan: 'nf-compute-20' },
          deployment: { instances: 1 },
          vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
          ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
          healthChecks: [check],
          runtimeEnvironment: { GREETING: greeting },
        } as never,
      });
    await Promise.all([service('web', 'v1'), service('cfapp', 'a')]);
    await Promise.all([settled('web', 1, 'v1'), settled('cfapp', 1, 'a')]);
  });
  after(async () => {
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('a rollback restores env and build, and a later unrelated change starts from them', async () => {
    const firstBuild = (await builds('web')).find((b) => b.status === 'SUCCESS')!.id;
    // A second build that answers with a suffix, deployed by continuous deployment: release 2.
    const sha = repo.commit('suffix', (dir) => {
      const file = path.join(dir, 'server.js');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("message: process.env.GREETING ?? 'hello'", "message: (process.env.GREETING ?? 'hello') + '@b2'"));
    });
    await client.start.service.build({ parameters: ids('web'), data: { sha } as never });
    await settled('web', 2, 'v1@b2');
    await client.update.service.runtimeEnvironment({ parameters: ids('web'), data: { runtimeEnvironment: { GREETING: 'v3' } } });
    await settled('web', 3, 'v3@b2');

    const rb = await api(p, 'POST', `/projects/${PROJECT}/services/web/rollback`, { release: 1 });
    assert.equal(rb.status, 200, JSON.stringify(rb.body));
    assert.equal(rb.body.release, 1);
    assert.deepEqual(rb.body.restored, ['env (GREETING)', `build ${firstBuild}`]);
    await settled('web', 1, 'v1');
    // The desired spec is release 1's again, through every read.
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids('web') })).data.runtimeEnvironment, { GREETING: 'v1' });
    const v = await view('web');
    assert.deepEqual(v.runtimeEnvironment, { GREETING: 'v1' });
    assert.equal(v.deployment.internal.buildId, firstBuild, 'the rolled-back build is pinned');
    assert.equal((await api(p, 'GET', `/projects/${PROJECT}/services/web/cd`)).body.enabled, false, 'continuous deployment is off while a build is pinned');

    // An unrelated change (a health check's timeout) makes release 4 from release 1's env and build.
    await client.update.service.healthChecks({ parameters: ids('web'), data: { healthChecks: [{ ...check, timeoutSeconds: 3 }] } });
    await settled('web', 4, 'v1');
    // One more variable, added to what GET shows: still release 1's greeting and build.
    const env = (await client.get.service.runtimeEnvironment({ parameters: ids('web') })).data.runtimeEnvironment;
    await client.update.service.runtimeEnvironment({ parameters: ids('web'), data: { runtimeEnvironment: { ...env, EXTRA: '1' } } });
    await settled('web', 5, 'v1');
    assert.equal((await view('web')).deployment.internal.buildId, firstBuild);

    const releases = (await api(p, 'GET', `/projects/${PROJECT}/services/web/releases`)).body.releases as { number: number; changes: string[] }[];
    assert.deepEqual(releases.find((r) => r.number === 5)!.changes, ['env (EXTRA)']);
    assert.deepEqual(releases.find((r) => r.number === 2)!.changes, [`build ${(await builds('web')).find((b) => b.sha === sha)!.id}`]);
  });

  it('a failed rollout returns the desired spec to the last good release, and the next change starts from it', async () => {
    const good = (await view('web')).release.number as number;
    const goodEnv = (await client.get.service.runtimeEnvironment({ parameters: ids('web') })).data.runtimeEnvironment;
    // A command that exits, with a new greeting: never ready, failed at the progress deadline.
    await client.patch.service.combined({
      parameters: ids('web'),
      data: { runtimeEnvironment: { ...goodEnv, GREETING: 'broken' }, deployment: { buildpack: { configType: 'customCommand', customCommand: 'exit 3' } } } as never,
    });
    const failed = await waitFor(async () => {
      const v = await view('web');
      return v.status.deployment.status === 'FAILED' ? v : undefined;
    }, 120_000, 'the rollout FAILED');
    assert.match(failed.status.deployment.message, new RegExp(`release ${good + 1} did not become ready.*returned to release ${good} and restored its env \\(GREETING\\), command`));
    await waitFor(async () => (await view('web')).release.number === good && (await served('web'))?.message === 'v1', 60_000, 'back on the good release');
    // The desired spec is the good one again: the failed greeting and command are gone.
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids('web') })).data.runtimeEnvironment, goodEnv);
    assert.equal((await view('web')).deployment.buildpack?.customCommand, undefined);
    const rollouts = (await api(p, 'GET', `/projects/${PROJECT}/services/web/rollouts`)).body.rollouts as { kind: string; status: string; toRelease: number; message: string | null; events: { message: string }[] }[];
    const failedRollout = rollouts.find((r) => r.toRelease === good + 1)!;
    assert.equal(failedRollout.status, 'FAILED', 'the failed release stays listed with its reason');
    assert.match(failedRollout.message ?? '', /did not become ready/);
    assert.equal(rollouts[0].kind, 'return');
    assert.match(rollouts[0].events[0].message, new RegExp(`returning to release ${good} after release ${good + 1} failed; restored its env \\(GREETING\\), command`));

    // A change of one health check makes a release from the good spec: it becomes ready.
    await client.update.service.healthChecks({ parameters: ids('web'), data: { healthChecks: [check] } });
    await settled('web', good + 2, 'v1');
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids('web') })).data.runtimeEnvironment, goodEnv);
  });

  it('a /v1 deploy of an older build pins it: a later unrelated change keeps it, and a build that does not exist is refused', async () => {
    const bad = await api(p, 'POST', `/v1/projects/${PROJECT}/services/web/deployment`, { internal: { buildId: 'no-such-build' } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(JSON.stringify(bad.body.error), /deployment\.internal\.buildId/);
    const pinned = (await view('web')).deployment.internal.buildId;
    const second = (await builds('web')).find((b) => b.status === 'SUCCESS' && b.id !== pinned)!.id;
    const at = (await view('web')).release.number as number;
    await client.update.service.deployment({ parameters: ids('web'), data: { internal: { buildId: second } } });
    await settled('web', at + 1, 'v1@b2');
    await client.update.service.healthChecks({ parameters: ids('web'), data: { healthChecks: [{ ...check, timeoutSeconds: 4 }] } });
    await settled('web', at + 2, 'v1@b2');
    assert.equal((await view('web')).deployment.internal.buildId, second);
  });

  it('a CF revision deployment restores the env, and a CF env change starts from it', async () => {
    await client.update.service.runtimeEnvironment({ parameters: ids('cfapp'), data: { runtimeEnvironment: { GREETING: 'b' } } });
    await settled('cfapp', 2, 'b');
    const apps = (await api(p, 'GET', '/v3/apps?names=cfapp')).body.resources as { guid: string }[];
    assert.equal(apps.length, 1);
    const app = apps[0].guid;
    const first = ((await api(p, 'GET', `/v3/apps/${app}/revisions`)).body.resources as { guid: string; version: number }[]).find((r) => r.version === 1)!;
    const back = await api(p, 'POST', '/v3/deployments', { revision: { guid: first.guid }, relationships: { app: { data: { guid: app } } } });
    assert.equal(back.status, 201, JSON.stringify(back.body));
    await settled('cfapp', 1, 'a');
    assert.deepEqual((await api(p, 'GET', `/v3/apps/${app}/environment_variables`)).body.var, { GREETING: 'a' });
    assert.deepEqual((await view('cfapp')).runtimeEnvironment, { GREETING: 'a' });

    const set = await api(p, 'PATCH', `/v3/apps/${app}/environment_variables`, { var: { EXTRA: '1' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    await settled('cfapp', 3, 'a');
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids('cfapp') })).data.runtimeEnvironment, { GREETING: 'a', EXTRA: '1' });
  });

  it('the CLI says what a rollback restored, and lists what each release changed', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-restore-cli-'));
    const cli = (args: string[]) => runCli(args, { home }).then((r) => ({ code: r.code, out: r.output }));
    try {
      const login = await cli(['login', '--host', p.apiUrl, '--token', ADMIN_TOKEN, '--name', 'test', '--router-port', String(p.routerPort)]);
      assert.equal(login.code, 0, login.out);
      // cfapp runs release 3 (GREETING a, EXTRA 1); release 2 had GREETING b and no EXTRA.
      const rb = await cli(['rollback', '2', '-p', PROJECT, '-s', 'cfapp']);
      assert.equal(rb.code, 0, rb.out);
      assert.match(rb.out, /Rolling back to release 2 \(restored release 2: env \(EXTRA, GREETING\)\)/);
      assert.match(rb.out, /release 2 is live/);
      assert.deepEqual((await view('cfapp')).runtimeEnvironment, { GREETING: 'b' });
      const list = await cli(['releases', '-p', PROJECT, '-s', 'cfapp']);
      assert.equal(list.code, 0, list.out);
      assert.match(list.out, /\b3\b.*env \(EXTRA\)/);
      assert.match(list.out, /\*\s+2\b.*env \(GREETING\)/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
