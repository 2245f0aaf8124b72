/**
 * CI without a push: build and combined services poll their repository's watched branch, and Northflank's
 * build rules decide which new commits build (ignored paths, an allow list, skip flags in the message).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { buildRuleSkip } from '../src/services/builds.ts';

describe('build rules', () => {
  it('skips a commit that changes only ignored paths, or none of an allow list, or carries a skip flag', () => {
    const ignore = { pathIgnoreRules: ['docs/**', '*.md'] };
    assert.match(buildRuleSkip(ignore, { message: 'docs', changed: ['docs/a.txt', 'README.md', 'sub/NOTES.md'] })!, /only ignored paths/);
    assert.equal(buildRuleSkip(ignore, { message: 'code', changed: ['docs/a.txt', 'server.js'] }), undefined);
    const allow = { pathIgnoreRules: ['src/**'], isAllowList: true };
    assert.match(buildRuleSkip(allow, { message: 'x', changed: ['README.md'] })!, /allow list/);
    assert.equal(buildRuleSkip(allow, { message: 'x', changed: ['src/index.js'] }), undefined);
    assert.match(buildRuleSkip({ ciIgnoreFlagsEnabled: true, ciIgnoreFlags: ['[skip ci]'] }, { message: 'wip [skip ci]', changed: ['server.js'] })!, /skip ci/);
    assert.equal(buildRuleSkip({ ciIgnoreFlagsEnabled: false, ciIgnoreFlags: ['[skip ci]'] }, { message: 'wip [skip ci]' }), undefined);
    assert.equal(buildRuleSkip(ignore, { message: 'first commit' }), undefined, 'unknown changes build');
  });
});

describe('repository polling with build rules', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const greet = (g: string, msg = `greeting ${g}`) => repo.commit(msg, (dir) => fs.writeFileSync(path.join(dir, 'Procfile'), `web: GREETING=${g} node server.js\n`));
  const events = async () => (await api(p, 'GET', '/projects/rules/services/web/events')).body.events as { reason: string; message: string }[];
  const builtShas = async () => ((await api(p, 'GET', '/v1/projects/rules/services/web/build')).body.data.builds as { sha: string }[]).map((b) => b.sha);
  const message = async () => {
    const r = await viaRouter(p, 'web.rules.localhost');
    return r.status === 200 ? ((await r.json()) as { message: string }).message : `HTTP ${r.status}`;
  };

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_REPO_POLL_MS: '300' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'rules' })).status, 200);
    greet('first');
    const created = await api(p, 'POST', '/v1/projects/rules/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      buildConfiguration: { pathIgnoreRules: ['docs/**', '*.md'], ciIgnoreFlagsEnabled: true, ciIgnoreFlags: ['[skip ci]'] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await message()) === 'first', 120_000, 'first commit deployed');
  });
  after(async () => {
    await p?.stop();
  });

  it('does not build a commit that changes only ignored paths, nor one flagged [skip ci]', async () => {
    const docs = repo.commit('docs only', (dir) => {
      fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'docs', 'guide.txt'), 'hello');
      fs.writeFileSync(path.join(dir, 'CHANGES.md'), '# changes');
    });
    await waitFor(async () => (await events()).some((e) => e.reason === 'Skipped' && e.message.includes(docs.slice(0, 12)) && /only ignored paths/.test(e.message)), 30_000, 'docs commit skipped');
    const flagged = greet('flagged', 'try something [skip ci]');
    await waitFor(async () => (await events()).some((e) => e.reason === 'Skipped' && e.message.includes(flagged.slice(0, 12))), 30_000, 'flagged commit skipped');
    const shas = await builtShas();
    assert.ok(!shas.includes(docs) && !shas.includes(flagged), 'neither was built');
    assert.equal(await message(), 'first');
  });

  it('builds and deploys a new commit found by polling', async () => {
    const sha = greet('polled');
    await waitFor(async () => (await message()) === 'polled', 120_000, 'polled commit deployed');
    assert.ok((await builtShas()).includes(sha));
  });
});
