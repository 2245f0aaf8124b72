/**
 * The dashboard's pipeline board: the project page lists the pipeline; its page shows the stages as columns with
 * their resources, runs a stage's release flow from a button and shows the run's nodes as they change; in a real
 * browser (the machine's Chromium) against a real platform.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ROOT, api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { CHROMIUM, launchChromium, openPage, signIn } from './support/browser.ts';


describe('the dashboard shows a pipeline as a board', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('hello');

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    const ok = async (method: string, url: string, body: unknown) => {
      const r = await api(p, method, url, body);
      assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
    };
    await ok('POST', '/v1/projects', { name: 'shop' });
    // No build is needed: the board's services choose their source later, and the flow's one node is skipped.
    await ok('POST', '/v1/projects/shop/services/build', { name: 'builder', billing: {}, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted' }, buildSettings: { buildpack: {} } });
    await ok('POST', '/v1/projects/shop/services/deployment', { name: 'web-staging', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } });
    await ok('POST', '/v1/projects/shop/services/deployment', { name: 'web-prod', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } });
    await ok('POST', '/v1/projects/shop/jobs/manual', { name: 'migrate', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'builder' } }, command: 'echo migrate' });
    await ok('POST', '/v1/projects/shop/pipelines', { name: 'checkout', description: 'the checkout', nfObjects: [{ id: 'web-staging', type: 'service', stage: 'Staging' }, { id: 'web-prod', type: 'service', stage: 'Production' }, { id: 'migrate', type: 'job', stage: 'Production' }] });
    await ok('POST', '/v1/projects/shop/pipelines/checkout/release-flows/Production', {
      apiVersion: 'v1.2',
      arguments: { SKIP: 'true' },
      spec: { kind: 'Workflow', spec: { type: 'sequential', steps: [{ kind: 'JobRun', ref: 'migration', spec: { jobId: 'migrate' }, condition: 'success', skipNodeExecution: '${args.SKIP}' }] } },
    });
    browser = await launchChromium();
    page = await openPage(browser);
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('lists the pipeline, shows its stages with their resources, and runs a stage from a button with its nodes live', async () => {
    await signIn(page, p);
    await page.goto(`${p.apiUrl}/ui/projects/shop`);
    await page.getByRole('list', { name: 'Pipelines' }).getByRole('link', { name: 'checkout' }).click();
    await page.getByRole('heading', { level: 1, name: 'checkout' }).waitFor();
    const production = page.getByRole('region', { name: 'Production stage' });
    const staging = page.getByRole('region', { name: 'Staging stage' });
    await production.waitFor();
    const text = async (r: typeof production) => (await r.innerText()).replace(/\s+/g, ' ');
    await waitFor(async () => /web-prod/.test(await text(production)) && /migrate/.test(await text(production)), 60_000, 'production resources');
    assert.match(await text(staging), /web-staging/);
    assert.match(await text(staging), /No release flow for this stage/);
    assert.match(await text(page.getByRole('region', { name: 'Development stage' })), /no resources/);
    await production.getByRole('button', { name: 'Run Production release flow' }).click();
    await waitFor(async () => /Run 1 .*success/.test(await text(production)) && /migration JobRun skipped/.test(await text(production)), 60_000, 'the run and its node on the board');
    const runs = (await api(p, 'GET', '/v1/projects/shop/pipelines/checkout/release-flows/Production/runs')).body.data.runs as { status: string }[];
    assert.deepEqual(runs.map((r) => r.status), ['success']);
  });
});
