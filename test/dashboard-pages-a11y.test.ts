/**
 * The pages other features added to the dashboard (pipelines, log sinks, notifications, metrics charts,
 * autoscaling, addons) in a real browser (the machine's Chromium, driven by playwright-core) against a real
 * platform, with the data each page shows created through the API: every page passes an axe-core scan with no
 * serious or critical violation, light and dark, and fits 375 px; the log sink and webhook forms show the
 * API's field error beside the field and delete through the shared confirmation dialog. With
 * SLIPWAY_SCREENSHOTS=1 it writes each page (desktop and phone) into docs/screenshots/ui-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, assertAccessible, fieldError, launchChromium, assertFitsPhone } from './support/browser.ts';
import { ROOT, api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const SHOTS = process.env.SLIPWAY_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : undefined;
const DESKTOP = { width: 1200, height: 820 };

describe('dashboard: the feature pages pass axe and fit a phone', { concurrency: false }, () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('hello');
  const scanned: string[] = [];

  const h1 = (name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();
  const ok = async (method: string, url: string, body?: unknown) => {
    const r = await api(p, method, url, body);
    assert.equal(r.status, 200, `${method} ${url}: ${JSON.stringify(r.body)}`);
    return r.body;
  };

  const errorBeside = (label: string) => fieldError(page, label);
  const axe = (what: string) => assertAccessible(page, what);

  /** Scan a page at desktop and phone width, check it fits 375 px, and (when asked) screenshot both. */
  const check = async (name: string) => {
    await axe(name);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `ui-${name}.png`) });
    await assertFitsPhone(page, name);
    await axe(`${name} (phone)`);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `ui-${name}-phone.png`) });
    await page.setViewportSize(DESKTOP);
    scanned.push(name);
  };

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    if (SHOTS) fs.mkdirSync(SHOTS, { recursive: true });
    p = await startTestPlatform({ SLIPWAY_METRICS_INTERVAL_SECONDS: '1' });
    await ok('POST', '/v1/projects', { name: 'shop' });
    // An autoscaled service built from a pushed repository: its page shows the metrics charts and the autoscaling panel.
    await ok('POST', '/v1/projects/shop/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      autoscaling: { horizontal: { enabled: true, minReplicas: 1, maxReplicas: 3, cpu: { enabled: true, thresholdPercentage: 70 }, rps: { enabled: true, thresholdValue: 100 } } },
    });
    // A pipeline with two stages and a release flow: its board.
    await ok('POST', '/v1/projects/shop/services/deployment', { name: 'web-staging', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } });
    await ok('POST', '/v1/projects/shop/services/deployment', { name: 'web-prod', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { instances: 0 } });
    await ok('POST', '/v1/projects/shop/pipelines', { name: 'checkout', description: 'the checkout', nfObjects: [{ id: 'web-staging', type: 'service', stage: 'Staging' }, { id: 'web-prod', type: 'service', stage: 'Production' }] });
    // An addon: its page (status, backups, metrics).
    await ok('POST', '/v1/projects/shop/addons', { name: 'cache', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-10', storage: 1024, replicas: 1 } });
    // A log sink and a webhook (their receivers do not listen: they show as failing, which the pages show).
    await ok('POST', '/v1/integrations/log-sinks', { name: 'api loki', sinkType: 'loki', sinkData: { endpoint: 'http://127.0.0.1:9', encoding: { codec: 'json' } } });
    await ok('POST', '/v1/integrations/notifications', { name: 'ops hook', type: 'RAW_WEBHOOK', webhook: 'http://127.0.0.1:9/hook', events: { 'trigger:build:failure': true } });
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/shop/addons/cache')).body.data.status === 'running', 120_000, 'addon running');
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/shop/services/web')).body.data.status.deployment.status === 'COMPLETED', 240_000, 'web built and deployed');
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as a script tag, which the dashboard's Content-Security-Policy (rightly) refuses.
    page = await browser.newPage({ viewport: DESKTOP, colorScheme: 'light', bypassCSP: true });
    page.setDefaultTimeout(60_000);
    await page.goto(`${p.apiUrl}/ui/`);
    await page.getByLabel('API token').fill(p.token);
    await page.getByLabel('API token').press('Enter');
    await h1('Projects');
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('the project page with its pipelines and addons', async () => {
    await page.goto(`${p.apiUrl}/ui/projects/shop`);
    await h1('shop');
    await page.getByRole('list', { name: 'Pipelines' }).getByRole('link', { name: 'checkout' }).waitFor();
    await page.getByRole('link', { name: 'cache', exact: true }).waitFor();
    await check('project-extras');
  });

  it('the pipeline board', async () => {
    await page.getByRole('list', { name: 'Pipelines' }).getByRole('link', { name: 'checkout' }).click();
    await h1('checkout');
    await waitFor(async () => /web-prod/.test(await page.getByRole('region', { name: 'Production stage' }).innerText()), 60_000, 'production resources');
    await check('pipeline');
  });

  it('the service page with its metrics charts and autoscaling panel', async () => {
    await page.goto(`${p.apiUrl}/ui/projects/shop/services/web`);
    await h1('web');
    await page.getByRole('region', { name: 'Autoscaling' }).waitFor();
    await page.getByRole('region', { name: 'Metrics' }).waitFor();
    await page.locator('.uplot').first().waitFor();
    await check('service-metrics-autoscaling');
  });

  it('the service page during a request-percentage canary (its traffic split and analysis)', async () => {
    await ok('PATCH', '/v1/projects/shop/services/combined/web', { runtimeEnvironment: { GREETING: 'second' } });
    await waitFor(async () => {
      const list = (await api(p, 'GET', '/projects/shop/services/web/rollouts')).body.rollouts as { toRelease: number; status: string }[];
      return list.some((x) => x.toRelease === 2 && x.status === 'COMPLETED');
    }, 240_000, 'release 2 rolled out');
    const started = await api(p, 'POST', '/projects/shop/services/web/rollouts', { release: 1, strategy: 'canary', canary: { steps: [{ trafficPercent: 50 }, { trafficPercent: 100 }] } });
    assert.ok(started.status < 300, JSON.stringify(started.body));
    await page.goto(`${p.apiUrl}/ui/projects/shop/services/web`);
    await h1('web');
    await page.locator('.canary-traffic').waitFor();
    await waitFor(async () => /Router split/.test(await page.locator('.canary-traffic').innerText()), 120_000, 'the router split shown');
    await check('canary');
    await api(p, 'POST', `/projects/shop/services/web/rollouts/${started.body.number}/cancel`);
  });

  it('the addon page', async () => {
    await page.goto(`${p.apiUrl}/ui/projects/shop/addons/cache`);
    await h1(/cache/);
    await page.getByRole('button', { name: /back up/i }).first().waitFor();
    await check('addon');
  });

  it('log sinks: a bad name is refused beside the field; a sink is added and deleted after confirming', async () => {
    await page.goto(`${p.apiUrl}/ui/log-sinks`);
    await h1('Log sinks');
    await page.getByRole('row', { name: /api loki/ }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('x');
    await page.getByLabel('Loki URL').fill('http://127.0.0.1:9');
    await page.getByRole('button', { name: 'Add sink' }).click();
    assert.match(await errorBeside('Name'), /3/);
    assert.equal((await api(p, 'GET', '/v1/integrations/log-sinks')).body.data.logSinks.length, 1, 'nothing half-created');
    await check('log-sinks');
    await page.getByLabel('Name', { exact: true }).fill('second sink');
    await page.getByLabel('Password', { exact: true }).fill('sink-secret');
    await page.getByLabel('User', { exact: true }).fill('loki');
    await page.getByRole('button', { name: 'Add sink' }).click();
    await page.getByRole('row', { name: /second sink/ }).waitFor();
    assert.ok(!(await page.content()).includes('sink-secret'), 'the password is not shown after saving');
    await page.getByRole('button', { name: 'Delete second sink' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the log sink second sink?' });
    await axe('log-sinks delete dialog');
    await dialog.getByRole('button', { name: 'Delete second sink' }).click();
    await waitFor(async () => (await page.getByRole('row', { name: /second sink/ }).count()) === 0, 30_000, 'the sink gone from the page');
    assert.deepEqual((await api(p, 'GET', '/v1/integrations/log-sinks')).body.data.logSinks.map((s: { name: string }) => s.name), ['api loki']);
  });

  it('notifications: a bad URL is refused beside the field; the empty state says what to do', async () => {
    await page.goto(`${p.apiUrl}/ui/notifications`);
    await h1('Notifications');
    await page.getByRole('heading', { level: 2, name: 'ops hook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('team hook');
    await page.getByLabel('Webhook URL').fill('not a url');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    assert.ok((await errorBeside('Webhook URL')).length > 0);
    await check('notifications');
    await page.getByRole('button', { name: 'Delete ops hook' }).click();
    await page.getByRole('dialog', { name: 'Delete ops hook?' }).getByRole('button', { name: 'Delete ops hook' }).click();
    await page.getByText('No notification integrations yet').waitFor();
    await check('notifications-empty');
  });

  it('scanned every page', () => {
    for (const name of ['project-extras', 'pipeline', 'service-metrics-autoscaling', 'canary', 'addon', 'log-sinks', 'notifications', 'notifications-empty']) assert.ok(scanned.includes(name), `${name} scanned`);
  });
});
