/**
 * The dashboard's metrics charts, in a real browser (the machine's Chromium) against a real platform sampling
 * every second: the service page draws uPlot charts of traffic through the router and of each instance's CPU
 * and memory, keeps them live (a rollout started while the page is open appears on the time axis without a
 * reload), and switches ranges. With SLIPWAY_SCREENSHOTS=1 it writes docs/screenshots/metrics.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ROOT, api, fixtureRepo, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { CHROMIUM, launchChromium, openPage, signIn } from './support/browser.ts';

const SHOTS = process.env.SLIPWAY_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : undefined;
const PROJECT = 'shop';

describe('the dashboard charts a service’s metrics', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('hello');
  const completed = (what: string) => waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/web`)).body.data?.status?.deployment?.status === 'COMPLETED', 180_000, what);

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform({ SLIPWAY_METRICS_INTERVAL_SECONDS: '1' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
    const created = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await completed('first release');
    browser = await launchChromium();
    page = await openPage(browser);
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('draws live charts of traffic, CPU and memory with rollouts marked, and switches ranges', async () => {
    const load = routerLoad(p, `web.${PROJECT}.localhost`);
    try {
      await signIn(page, p);
      await page.goto(`${p.apiUrl}/ui/projects/${PROJECT}/services/web`);
      const panel = page.getByRole('region', { name: 'Metrics' });
      await panel.waitFor();
      const chart = (title: string) => panel.locator(`figure[data-chart="${title}"]`);
      for (const title of ['Requests per second', 'Responses by status', 'Latency', 'CPU', 'Memory']) await chart(title).locator('canvas').waitFor();
      // Traffic through the router reaches the requests chart; both instances get a memory line.
      await waitFor(async () => (await chart('Requests per second').locator('.u-legend').innerText()).includes('requests/s') && (await chart('Requests per second').getByText('No samples').count()) === 0, 60_000, 'requests charted');
      await waitFor(async () => (await chart('Memory').locator('.u-legend .u-series').count()) === 3, 60_000, 'a memory line per instance'); // x + 2 instances

      // The first rollout is listed under the charts; open the list (a <details>) to read it.
      const markers = panel.locator('details.markers');
      await markers.locator('summary').click();
      await waitFor(async () => /rollout 1 \(/.test(await markers.innerText()), 60_000, 'the first rollout listed');
      // A rollout started while the page is open shows up without a reload.
      const patched = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/web`, { runtimeEnvironment: { GREETING: 'charted' } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      await completed('the second release');
      await waitFor(async () => /rollout 2 \(/.test(await markers.innerText()) && /rollout completed: release 2/.test(await markers.innerText()), 60_000, 'the second rollout listed');
    } finally {
      await load.stop();
    }
    assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 3).join('; '));
    // The charts hold the load's numbers: the API's series for the same range has the requests the load made.
    const series = (await api(p, 'GET', `/projects/${PROJECT}/services/web/metrics?names=requests&from=-15m`)).body.series as { points: [number, number][] }[];
    assert.ok(series[0].points.reduce((a, [, v]) => a + v, 0) > 0);
    if (SHOTS) {
      const metrics = page.getByRole('region', { name: 'Metrics' });
      await metrics.getByRole('button', { name: '5 min', exact: true }).click();
      await page.waitForTimeout(3000);
      await metrics.screenshot({ path: path.join(SHOTS, 'metrics.png') });
    }

    const panel = page.getByRole('region', { name: 'Metrics' });
    await panel.getByRole('button', { name: '1 hour' }).click();
    assert.equal(await panel.getByRole('button', { name: '1 hour' }).getAttribute('aria-pressed'), 'true');
    await waitFor(async () => /30 s per point/.test(await panel.innerText()), 30_000, 'the hour range at 30 s per point');
  });
});
