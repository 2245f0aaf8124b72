/**
 * Secret groups beyond running services, through the official @northflank/js-client: build arguments from
 * groups reach a real build (under the service's own), and jobs read their groups when each run starts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const PROJECT = 'sgb';
const parameters = { projectId: PROJECT };
const ARG_VALUE = 'build-arg-value-51d0';

describe('secret groups for builds and jobs', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('hello');
  // The app's build writes what it was given into its artifact.
  repo.commit('a build step that records its build arguments', (dir) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkg.scripts.build = `node -e "require('fs').writeFileSync('build-args.json', JSON.stringify({ label: process.env.BUILD_LABEL ?? null, over: process.env.OVERRIDDEN ?? null, envOnly: process.env.ENV_ONLY ?? null }))"`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  });
  const builds = async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/tools/build`)).body.data.builds as { id: string; status: string }[];

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
  });
  after(async () => {
    await p?.stop();
  });

  it('gives a build the arguments of its groups, under its own, and no runtime-only group', async () => {
    await client.create.secret({ parameters, data: { name: 'build env', secretType: 'arguments', priority: 5, secrets: { variables: { BUILD_LABEL: ARG_VALUE, OVERRIDDEN: 'group' } } } });
    await client.create.secret({ parameters, data: { name: 'runtime only', secretType: 'environment', priority: 50, secrets: { variables: { ENV_ONLY: 'runtime' } } } });
    await client.create.service.build({
      parameters,
      data: { name: 'tools', billing: { deploymentPlan: 'nf-compute-20' }, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: { builder: 'HEROKU_24' } }, buildArguments: { OVERRIDDEN: 'own' } } as never,
    });
    const build = await waitFor(async () => {
      const b = (await builds())[0];
      if (b?.status === 'FAILURE') throw new Error(`build failed: ${(await api(p, 'GET', `/projects/${PROJECT}/services/tools/builds/${b.id}/log`)).body}`);
      return b?.status === 'SUCCESS' ? b : undefined;
    }, 180_000, 'tools build');
    const recorded = JSON.parse(fs.readFileSync(path.join(p.dataDir, 'artifacts', build.id, 'build-args.json'), 'utf8'));
    assert.deepEqual(recorded, { label: ARG_VALUE, over: 'own', envOnly: null });
    const log = String((await api(p, 'GET', `/projects/${PROJECT}/services/tools/builds/${build.id}/log`)).body);
    assert.match(log, /Build arguments: BUILD_LABEL, OVERRIDDEN/);
    assert.ok(!log.includes(ARG_VALUE), 'the log names arguments, never their values');
  });

  it('gives a job run its groups under its own values, and the next run the changed ones', async () => {
    await client.create.job.manual({
      parameters,
      data: {
        name: 'report',
        tags: ['batch'],
        billing: { deploymentPlan: 'nf-compute-10' },
        deployment: { internal: { id: 'tools' }, buildpack: { configType: 'customCommand', customCommand: 'echo "greeting=$GREETING level=$LEVEL"' } },
        runtimeEnvironment: { LEVEL: 'own' },
      } as never,
    });
    await client.create.secret({ parameters, data: { name: 'batch', secretType: 'environment', priority: 10, restrictions: { restricted: true, tags: ['batch'] }, secrets: { variables: { GREETING: 'job group', LEVEL: 'group' } } } });
    const runOnce = async () => {
      const started = await client.start.job.run({ parameters: { ...parameters, jobId: 'report' }, data: {} });
      const id = started.data.id as string;
      await waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/jobs/report/runs/${id}`)).body.data.concluded, 60_000, `run ${id} concluded`);
      const lines = (await api(p, 'GET', `/projects/${PROJECT}/jobs/report/runs/${id}/logs`)).body.lines as { line: string }[];
      return lines.map((l) => l.line).join('\n');
    };
    assert.match(await runOnce(), /greeting=job group level=own/);
    const details = await client.get.job.runtimeEnvironmentDetails({ parameters: { ...parameters, jobId: 'report' } });
    const env = details.data.runtimeEnvironment as Record<string, any>;
    assert.equal(env.GREETING.inheritedFrom, 'batch');
    assert.deepEqual(env.LEVEL.overriding, [{ value: 'group', inheritedFrom: 'batch', priority: 10 }]);

    await client.patch.secret({ parameters: { ...parameters, secretId: 'batch' }, data: { secrets: { variables: { GREETING: 'job group v2', LEVEL: 'group' } } } });
    assert.match(await runOnce(), /greeting=job group v2 level=own/);
  });

  it('still changes a group whose restriction names a job deleted since', async () => {
    await client.create.secret({ parameters, data: { name: 'report only', secretType: 'environment', priority: 1, restrictions: { restricted: true, nfObjects: [{ id: 'report', type: 'job' }] }, secrets: { variables: { A: '1' } } } });
    await client.delete.job({ parameters: { ...parameters, jobId: 'report' } });
    await client.patch.secret({ parameters: { ...parameters, secretId: 'report-only' }, data: { secrets: { variables: { A: '2' } } } });
    assert.equal((await client.get.secret({ parameters: { ...parameters, secretId: 'report-only' } })).data.secrets.variables.A, '2');
    // Naming it again is refused: it is gone.
    const err = await client.patch.secret({ parameters: { ...parameters, secretId: 'report-only' }, data: { restrictions: { restricted: true, nfObjects: [{ id: 'report', type: 'job' }] } } }).then(() => undefined, (e: { status: number; details?: Record<string, string[]> }) => e);
    assert.equal(err?.status, 400);
    assert.ok(err?.details?.['restrictions.nfObjects.0.id']);
  });
});
