/**
 * Logs, sinks and alerts from the CLI and the dashboard: `slipway logs` searches and `slipway logs -f`
 * follows the live stream; `slipway sinks` and `slipway alerts` manage integrations and uptime checks; in
 * Chromium, the service page's log view streams new lines (one Server-Sent Events request, no polling) and
 * the Log sinks and Notifications pages list and add integrations. With SLIPWAY_SCREENSHOTS=1 it writes
 * docs/screenshots/logs-stream.png, log-sinks.png and notifications.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, api, fixtureRepo, ROOT, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';
import { CHROMIUM, launchChromium, openPage, signIn } from './support/browser.ts';

const SHOTS = process.env.SLIPWAY_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : undefined;
const HOST = 'app.obs.localhost';

describe('logs, sinks and alerts from the CLI and the dashboard', () => {
  let p: RunningPlatform;
  let home: string;
  let browser: Browser;
  let page: Page;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { home, env });
  const burst = async (tag: string, n: number) => assert.equal((await viaRouter(p, HOST, `/burst?n=${n}&tag=${tag}`)).status, 200);

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-obs-cli-'));
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'obs' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/obs/services/combined', {
      name: 'app',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: fixtureRepo('log-burst').dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/obs/services/app')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'deployed');
    assertCliOk(await cli(['login', '--host', p.apiUrl, '--token', ADMIN_TOKEN, '--name', 'test', '--router-port', String(p.routerPort)]), 'login');
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('searches the logs and follows the live stream from the CLI', async () => {
    await burst('kilo', 3);
    await waitFor(async () => (await api(p, 'GET', '/projects/obs/services/app/logs?search=kilo')).body.lines.length === 3, 30_000, 'kilo lines kept');
    const found = await cli(['logs', '-p', 'obs', '-s', 'app', '--search', 'kilo', '--since', '10m']);
    assertCliOk(found, 'logs --search');
    assert.deepEqual(found.stdout.trim().split('\n').map((l) => l.replace(/^\[[^\]]+\] /, '')), ['kilo 0', 'kilo 1', 'kilo 2']);
    const bad = await cli(['logs', '-p', 'obs', '-s', 'app', '--since', 'last tuesday']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /since/);

    // -f: the stream's backlog, then lines written after it started.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_')));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/slipway.mjs'), 'logs', '-f', '-p', 'obs', '-s', 'app', '--search', 'lima'], { cwd: home, env: { ...base, SLIPWAY_CONFIG: path.join(home, 'slipway.json'), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      await burst('lima', 5);
      await waitFor(() => (out.match(/lima \d/g) ?? []).length >= 5, 30_000, 'five followed lines');
      assert.deepEqual(out.match(/lima \d/g), ['lima 0', 'lima 1', 'lima 2', 'lima 3', 'lima 4']);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
  });

  it('manages log sinks, notification integrations and uptime checks from the CLI, without showing secrets', async () => {
    assertCliOk(await cli(['sinks', 'create', 'cli loki', '--type', 'loki', '--url', 'http://127.0.0.1:9', '--user', 'u', '--password-env', 'LOKI_PW'], { LOKI_PW: 'cli-secret-pw' }), 'sinks create');
    const sinks = await cli(['sinks', 'list']);
    assertCliOk(sinks, 'sinks list');
    assert.match(sinks.stdout, /cli-loki\s+loki/);
    const shown = await cli(['--json', 'sinks', 'show', 'cli-loki']);
    assertCliOk(shown, 'sinks show');
    assert.ok(!shown.stdout.includes('cli-secret-pw'));
    assertCliOk(await cli(['sinks', 'pause', 'cli-loki']), 'sinks pause');
    assert.match((await cli(['sinks', 'list'])).stdout, /cli-loki\s+loki\s+paused/);
    assertCliOk(await cli(['alerts', 'create', 'cli hook', '--webhook', 'http://127.0.0.1:9/hook', '--secret-env', 'HOOK_SECRET', '--events', 'rollout,build'], { HOOK_SECRET: 'cli-hook-secret' }), 'alerts create');
    const hooks = await cli(['alerts', 'list']);
    assert.match(hooks.stdout, /cli-hook\s+RAW_WEBHOOK\s+\S+\s+rollout,build/);
    assert.ok(!(await cli(['--json', 'alerts', 'show', 'cli-hook'])).stdout.includes('cli-hook-secret'));
    assertCliOk(await cli(['alerts', 'deliveries', 'cli-hook']), 'alerts deliveries');
    assertCliOk(await cli(['alerts', 'uptime', 'add', '-p', 'obs', '-s', 'app', '--port', 'p01', '--interval', '30', '--notify', 'cli-hook']), 'uptime add');
    const checks = await cli(['alerts', 'uptime', 'list', '-p', 'obs']);
    assert.match(checks.stdout, /app-p01\s+app\s+p01\s+\/\s+30s/);
    const badEvent = await cli(['alerts', 'create', 'x hook', '--webhook', 'http://127.0.0.1:9', '--events', 'sunrise']);
    assert.notEqual(badEvent.code, 0);
    assert.match(badEvent.output, /sunrise/);
  });

  it('streams new log lines into the service page (no polling) and lists sinks and notifications', async () => {
    browser = await launchChromium();
    page = await openPage(browser, { colorScheme: 'light' });
    const logRequests: { url: string; accept?: string }[] = [];
    page.on('request', (req) => {
      if (/\/logs(\/stream)?(\?|$)/.test(new URL(req.url()).pathname + '?')) logRequests.push({ url: req.url(), accept: req.headers().accept });
    });
    await signIn(page, p);
    await page.goto(`${p.apiUrl}/ui/projects/obs/services/app`);
    const log = page.getByRole('log', { name: 'Service logs' });
    await waitFor(async () => /kilo 2/.test(await log.innerText()), 30_000, 'the backlog');
    await waitFor(async () => /streaming/.test(await page.getByTestId('log-status').innerText()), 30_000, 'streaming');
    await burst('mike', 4);
    await waitFor(async () => /mike 3/.test(await log.innerText()), 30_000, 'a line written after the page opened');
    const texts = await log.locator('div').allInnerTexts();
    assert.deepEqual(texts.filter((t) => /mike \d/.test(t)).map((t) => t.replace(/^.* (mike \d)$/, '$1')), ['mike 0', 'mike 1', 'mike 2', 'mike 3']);
    // One stream, asked for as an event stream; no polling of the log route.
    assert.equal(logRequests.filter((r) => /\/logs\/stream\?/.test(r.url)).length, 1, JSON.stringify(logRequests));
    assert.equal(logRequests[0].accept, 'text/event-stream');
    assert.equal(logRequests.filter((r) => !/\/logs\/stream\?/.test(r.url)).length, 0, JSON.stringify(logRequests));
    await log.scrollIntoViewIfNeeded();
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'logs-stream.png') });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log sinks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Log sinks' }).waitFor();
    await page.getByRole('row', { name: /cli loki/ }).waitFor();
    await page.getByLabel('Name').fill('page sink');
    await page.getByLabel('Type').selectOption('http');
    await page.getByLabel('URI').fill('http://127.0.0.1:9/in');
    await page.getByRole('button', { name: 'Add sink' }).click();
    await page.getByRole('row', { name: /page sink/ }).waitFor();
    assert.equal((await api(p, 'GET', '/v1/integrations/log-sinks/page-sink')).body.data.sinkType, 'http');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'log-sinks.png'), fullPage: true });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications' }).click();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'cli hook' }).waitFor();
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'notifications.png'), fullPage: true });
  });
});
