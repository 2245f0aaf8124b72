/**
 * CI/CD with `git push`: slipway hosts the repository over smart HTTP (the API token is the password); a
 * push to the watched branch builds the commit and, with continuous deployment on, rolls it out. With CD off
 * a push builds but does not deploy; deploying a build by hand turns CD off. Real git, real HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

function git(cwd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => execFile('git', args, { cwd, env: ENV }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })));
}

describe('git push CI/CD', { concurrency: false }, () => {
  let p: RunningPlatform;
  let remote: (token: string | null) => string;
  const repo = fixtureRepo('hello');
  const setGreeting = (g: string) => repo.commit(`greeting ${g}`, (dir) => fs.writeFileSync(path.join(dir, 'Procfile'), `web: GREETING=${g} node server.js\n`));
  const message = async () => {
    const r = await viaRouter(p, 'app.gitp.localhost');
    return r.status === 200 ? ((await r.json()) as { message: string }).message : `HTTP ${r.status}`;
  };
  const builds = async () => (await api(p, 'GET', '/v1/projects/gitp/services/app/build')).body.data.builds as { id: string; sha: string; status: string }[];

  before(async () => {
    p = await startTestPlatform();
    const api_ = new URL(p.apiUrl);
    remote = (token) => `http://${token ? `git:${token}@` : ''}${api_.host}/git/gitp/app.git`;
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'gitp' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/gitp/services/combined', {
      name: 'app',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: `${p.apiUrl}/git/gitp/app.git`, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
  });
  after(async () => {
    await p?.stop();
  });

  it('refuses a push without a token or with a read-only one', async () => {
    const anon = await git(repo.dir, 'push', remote(null), 'main');
    assert.notEqual(anon.code, 0);
    assert.match(anon.out, /401|Authentication failed|could not read Username/i);
    const viewer = (await api(p, 'POST', '/tokens', { name: 'ro', role: 'viewer', projectId: 'gitp' })).body.token as string;
    const ro = await git(repo.dir, 'push', remote(viewer), 'main');
    assert.notEqual(ro.code, 0);
    assert.match(ro.out, /403/);
  });

  it('builds and deploys a pushed commit, and the next one too with CD on', async () => {
    setGreeting('first');
    const first = await git(repo.dir, 'push', remote(p.token), 'main');
    assert.equal(first.code, 0, first.out);
    await waitFor(async () => (await message()) === 'first', 120_000, 'first push deployed');
    assert.deepEqual((await api(p, 'GET', '/projects/gitp/services/app/cd')).body, { enabled: true, buildId: null });

    const sha = setGreeting('second');
    const second = await git(repo.dir, 'push', remote(p.token), 'main');
    assert.equal(second.code, 0, second.out);
    await waitFor(async () => (await message()) === 'second', 120_000, 'second push deployed');
    assert.ok((await builds()).some((b) => b.sha === sha && b.status === 'SUCCESS'));

    const clone = fs.mkdtempSync(path.join(p.dataDir, 'clone-'));
    const cloned = await git(clone, 'clone', '-q', remote(p.token), 'app');
    assert.equal(cloned.code, 0, cloned.out);
    assert.equal(fs.readFileSync(path.join(clone, 'app', 'Procfile'), 'utf8'), 'web: GREETING=second node server.js\n');
  });

  it('with CD off builds a push without deploying it; a manual deploy of an older build turns CD off', async () => {
    const off = await api(p, 'PUT', '/projects/gitp/services/app/cd', { enabled: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.enabled, false);
    const sha = setGreeting('third');
    assert.equal((await git(repo.dir, 'push', remote(p.token), 'main')).code, 0);
    await waitFor(async () => (await builds()).some((b) => b.sha === sha && b.status === 'SUCCESS'), 120_000, 'third commit built');
    assert.equal(await message(), 'second', 'the build is not deployed with CD off');

    const on = await api(p, 'PUT', '/projects/gitp/services/app/cd', { enabled: true });
    assert.equal(on.body.enabled, true);
    await waitFor(async () => (await message()) === 'third', 60_000, 'CD on deploys the newest build');

    const oldest = (await builds()).filter((b) => b.status === 'SUCCESS').at(-1)!;
    const manual = await api(p, 'POST', '/projects/gitp/services/app/deploy', { buildId: oldest.id });
    assert.equal(manual.status, 200, JSON.stringify(manual.body));
    assert.deepEqual(manual.body, { enabled: false, buildId: oldest.id });
    await waitFor(async () => (await message()) === 'first', 60_000, 'the older build runs');
    const bad = await api(p, 'POST', '/projects/gitp/services/app/deploy', { buildId: 'build-nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'buildId');
  });
});
