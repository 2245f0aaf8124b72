/**
 * GitOps for release flows, end to end through the official client and real `git push`es over smart HTTP: a
 * flow kept in a file of a hosted repository is committed there by `update.releaseFlow`; a push that changes
 * the file updates the flow; a push of an invalid file leaves the flow as it was and the error is readable;
 * bad `gitops` blocks are refused naming the field, with nothing saved. The sync state is shown by the CLI
 * (`slipway release gitops`) and on the dashboard's pipeline board (the machine's Chromium).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ApiClient } from '@northflank/js-client';
import { chromium } from 'playwright-core';
import { ROOT, api, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';

const project = 'gitops';
const FILE = 'release/staging.json';

describe('release flows kept in a hosted repository (GitOps)', () => {
  let p: RunningPlatform;
  let nf: ApiClient;
  let hosted: string;
  let work: string;
  const params = { projectId: project, pipelineId: 'rel', stage: 'Staging' };
  const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.com' };
  const git = (...args: string[]) => execFileSync('git', ['-C', work, ...args], { env: gitEnv, encoding: 'utf8' }).trim();
  const authed = () => {
    const u = new URL(hosted);
    u.username = 'git';
    u.password = p.token;
    return u.toString();
  };
  const steps = (jobs: string[]) => ({ kind: 'Workflow', spec: { type: 'sequential', steps: jobs.map((jobId) => ({ kind: 'JobRun', ref: jobId, spec: { jobId }, condition: 'success' })) } });
  const status = async () => (await api(p, 'GET', `/projects/${project}/pipelines/rel/stages/Staging/release-flow/gitops`)).body;
  const flowJobs = async () => ((await nf.get.releaseFlow({ parameters: params })).data.spec.spec.steps as { spec: { jobId: string } }[]).map((s) => s.spec.jobId);
  /** Write the file in the clone, commit it and push the branch. */
  function pushFile(text: string, message: string): string {
    fs.mkdirSync(path.join(work, path.dirname(FILE)), { recursive: true });
    fs.writeFileSync(path.join(work, FILE), text);
    git('add', FILE);
    git('commit', '-q', '-m', message);
    git('push', '-q', authed(), 'HEAD:refs/heads/flows');
    return git('rev-parse', 'HEAD');
  }

  before(async () => {
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    nf = await northflankClient(p);
    hosted = `${p.apiUrl}/git/${project}/infra.git`;
    await nf.create.project({ data: { name: project } });
    // The repository is reached through the build service that builds from it (its branch `main` is not the flows branch).
    await nf.create.service.build({ parameters: { projectId: project }, data: { name: 'infra', billing: {}, vcsData: { projectUrl: hosted, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: {} } } as never });
    for (const name of ['migrate', 'seed']) {
      await nf.create.job.manual({ parameters: { projectId: project }, data: { name, billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'infra', branch: 'main' } }, command: 'echo hi' } as never });
    }
    const made = await api(p, 'POST', `/v1/projects/${project}/pipelines`, { name: 'rel', nfObjects: [{ id: 'migrate', type: 'job', stage: 'Staging' }, { id: 'seed', type: 'job', stage: 'Staging' }] });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-gitops-test-'));
  });
  after(async () => {
    await p?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses a bad gitops block naming the field, with nothing saved', async () => {
    const bad = async (gitops: Record<string, unknown>) => {
      const r = await api(p, 'POST', `/v1/projects/${project}/pipelines/rel/release-flows/Staging`, { apiVersion: 'v1.2', gitops, spec: steps(['migrate']) });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      return r.body.error.details as Record<string, string[]>;
    };
    assert.ok((await bad({ vcsService: 'github', repoUrl: 'https://github.com/a/b', branch: 'main', filePath: FILE }))['gitops.vcsService']);
    assert.match((await bad({ vcsService: 'self-hosted', repoUrl: 'https://example.com/a/b', branch: 'main', filePath: FILE }))['gitops.repoUrl'][0], /repository slipway hosts/);
    assert.match((await bad({ vcsService: 'self-hosted', repoUrl: `${p.apiUrl}/git/${project}/nothing.git`, branch: 'main', filePath: FILE }))['gitops.repoUrl'][0], /no build or combined service 'nothing'/);
    assert.match((await bad({ vcsService: 'self-hosted', repoUrl: `${p.apiUrl}/git/other/infra.git`, branch: 'main', filePath: FILE }))['gitops.repoUrl'][0], /project 'gitops'/);
    assert.ok((await bad({ vcsService: 'self-hosted', repoUrl: hosted, branch: 'main', filePath: '../x.json' }))['gitops.filePath']);
    assert.ok((await bad({ vcsService: 'self-hosted', repoUrl: hosted, branch: 'a..b', filePath: FILE }))['gitops.branch']);
    assert.equal((await api(p, 'GET', `/v1/projects/${project}/pipelines/rel/release-flows/Staging`)).status, 404, 'no flow was saved');
  });

  it('commits the template to the file when the flow is saved through the API', async () => {
    const gitops = { vcsService: 'self-hosted' as const, repoUrl: hosted, branch: 'flows', filePath: FILE };
    const saved = (await nf.update.releaseFlow({ parameters: params, data: { apiVersion: 'v1.2', gitops, options: { concurrencyPolicy: 'queue' }, spec: steps(['migrate']) } })).data;
    assert.deepEqual(saved.gitops, gitops, 'get/update show the gitops block as given');
    execFileSync('git', ['clone', '-q', '-b', 'flows', authed(), work], { env: gitEnv });
    const file = JSON.parse(fs.readFileSync(path.join(work, FILE), 'utf8'));
    assert.deepEqual(file.spec, steps(['migrate']));
    assert.deepEqual(file.options, { concurrencyPolicy: 'queue' });
    assert.equal(file.gitops, undefined, 'the file holds the template, not where it is kept');
    assert.equal(git('log', '-1', '--format=%an'), 'slipway');
    const st = await status();
    assert.equal(st.enabled, true);
    assert.equal(st.syncedSha, git('rev-parse', 'HEAD'));
    assert.equal(st.error, null);
    assert.deepEqual(await flowJobs(), ['migrate']);
  });

  it('updates the flow when a push changes the file', async () => {
    const file = JSON.parse(fs.readFileSync(path.join(work, FILE), 'utf8'));
    file.spec = steps(['migrate', 'seed']);
    const sha = pushFile(`${JSON.stringify(file, null, 2)}\n`, 'run the seed job after the migration');
    await waitFor(async () => (await status()).syncedSha === sha, 60_000, 'the push synced');
    assert.deepEqual(await flowJobs(), ['migrate', 'seed']);
    const flow = (await nf.get.releaseFlow({ parameters: params })).data;
    assert.equal(flow.options?.concurrencyPolicy, 'queue');
    assert.equal(flow.gitops?.filePath, FILE, 'the gitops block is kept');
    assert.equal((await status()).error, null);
  });

  it('keeps the flow unchanged and records the error when a pushed file is invalid', async () => {
    const file = JSON.parse(fs.readFileSync(path.join(work, FILE), 'utf8'));
    file.spec = steps(['migrate', 'nope']);
    const badNode = pushFile(`${JSON.stringify(file, null, 2)}\n`, 'a job that does not exist');
    const e1 = await waitFor(async () => ((await status()).error?.sha === badNode ? (await status()).error : undefined), 60_000, 'the error of the bad node');
    assert.ok(e1.problems.some((x: { field: string }) => x.field.startsWith('spec.spec.steps[1]')), JSON.stringify(e1));
    assert.match(e1.message, new RegExp(`${FILE} at ${badNode.slice(0, 12)} was not applied`));
    assert.deepEqual(await flowJobs(), ['migrate', 'seed'], 'the flow is unchanged');

    const notJson = pushFile('{ "spec": ', 'broken JSON');
    const e2 = await waitFor(async () => ((await status()).error?.sha === notJson ? (await status()).error : undefined), 60_000, 'the error of the broken file');
    assert.equal(e2.problems[0].field, 'file');
    assert.equal(e2.problems[0].rule, 'json');
    assert.deepEqual(await flowJobs(), ['migrate', 'seed'], 'still unchanged');
    assert.notEqual((await status()).syncedSha, notJson);

    // The CLI and the dashboard's board show where the file is and the error.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-gitops-'));
    const shown = await runCli(['release', 'gitops', 'rel', 'Staging', '-p', project], { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, NO_COLOR: '1' } });
    fs.rmSync(home, { recursive: true, force: true });
    assertCliOk(shown, 'release gitops');
    assert.match(shown.stdout, new RegExp(`${FILE} on flows of ${hosted}`));
    assert.match(shown.stdout, new RegExp(`last push not applied: ${FILE} at ${notJson.slice(0, 12)}`));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(60_000);
      await page.goto(`${p.apiUrl}/ui/`);
      await page.getByLabel('API token').fill(p.token);
      await page.getByLabel('API token').press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
      await page.goto(`${p.apiUrl}/ui/projects/${project}/pipelines/rel`);
      const line = page.getByRole('region', { name: 'Staging stage' }).getByLabel('Staging GitOps');
      await line.waitFor();
      await waitFor(async () => /Last push not applied/.test(await line.innerText()), 60_000, 'the error on the board');
      const text = (await line.innerText()).replace(/\s+/g, ' ');
      assert.match(text, new RegExp(`kept in ${FILE} on flows · synced ${(await status()).syncedSha.slice(0, 12)}`));
      assert.match(text, /is not JSON/);
    } finally {
      await browser.close();
    }
  });

  it('commits an API update on top of what was pushed, and a later good push clears the error', async () => {
    const pushedHead = git('rev-parse', 'HEAD');
    await nf.update.releaseFlow({ parameters: params, data: { apiVersion: 'v1.2', gitops: { vcsService: 'self-hosted', repoUrl: hosted, branch: 'flows', filePath: FILE }, options: { paused: true }, spec: steps(['seed']) } });
    git('pull', '-q', '--ff-only', authed(), 'flows');
    assert.equal(git('rev-parse', 'HEAD^'), pushedHead, "the API's commit sits on the pushed history");
    const file = JSON.parse(fs.readFileSync(path.join(work, FILE), 'utf8'));
    assert.deepEqual(file.spec, steps(['seed']));
    assert.deepEqual(file.options, { paused: true });
    const st = await status();
    assert.equal(st.syncedSha, git('rev-parse', 'HEAD'));
    assert.equal(st.error, null, 'a save through the API clears the error');
    assert.deepEqual(await flowJobs(), ['seed']);

    file.spec = steps(['seed', 'migrate']);
    const good = pushFile(`${JSON.stringify(file, null, 2)}\n`, 'seed then migrate');
    await waitFor(async () => (await status()).syncedSha === good, 60_000, 'the good push synced');
    assert.deepEqual(await flowJobs(), ['seed', 'migrate']);
    assert.equal((await nf.get.releaseFlow({ parameters: params })).data.paused, true);
    assert.equal((await nf.list.releaseFlowRuns({ parameters: params })).data.runs!.length, 0, 'syncing a file runs nothing');
  });
});
