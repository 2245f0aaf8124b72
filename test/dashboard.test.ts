/**
 * The web dashboard in a real browser (the machine's Chromium, driven by playwright-core) against a real
 * platform: sign in with a token, find the service, roll out and watch the steps arrive live until the
 * rollout completes, read and search the logs, roll back from the releases list, read a build log, and fit
 * a phone's width. With SLIPWAY_SCREENSHOTS=1 it also writes the screenshots in docs/screenshots/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.SLIPWAY_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : undefined;
const SVC = '/v1/projects/shop/services/web';

describe('web dashboard', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const streams: { url: string; authorized: boolean }[] = [];
  const repo = fixtureRepo('hello');
  const service = async () => (await api(p, 'GET', SVC)).body.data;

  /** A screenshot for docs/dashboard.md, only when asked for. */
  const shot = async (name: string, fullPage = false) => {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  };
  const section = (name: string) => page.getByRole('region', { name });
  const textOf = async (name: string) => (await section(name).innerText()).replace(/\s+/g, ' ');

  before(async () => {
    // Never a downloaded browser: the Debian package (scripts/test.sh and .ci/run install it as root).
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    // Test the source as it is now: build web/ (as `npm ci` does) before the platform serves web/dist.
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'shop', description: 'The web shop' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/shop/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await service()).status.deployment.status === 'COMPLETED', 120_000, 'release 1 COMPLETED');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    page.setDefaultTimeout(60_000);
    page.on('request', (req) => {
      if (req.headers().accept === 'text/event-stream') streams.push({ url: req.url(), authorized: req.headers().authorization === `Bearer ${p.token}` });
    });
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('type-checks (web/ has its own tsconfig)', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'web'), '--noEmit'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('is served at /ui/ without a token; client routes fall back to index.html; the API still needs one', async () => {
    for (const url of ['/ui/', '/ui/projects/shop/services/web']) {
      const res = await fetch(`${p.apiUrl}${url}`);
      assert.equal(res.status, 200, url);
      assert.match(await res.text(), /<div id="root">/);
    }
    const bare = await fetch(`${p.apiUrl}/ui`, { redirect: 'manual' });
    assert.equal(bare.headers.get('location'), '/ui/');
    assert.equal((await fetch(`${p.apiUrl}/ui/assets/missing.js`)).status, 404);
    assert.equal((await fetch(`${p.apiUrl}/v1/projects`)).status, 401);
  });

  it('signs in with a token typed by the user (a wrong one is refused)', async () => {
    await page.goto(`${p.apiUrl}/ui/`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await shot('sign-in');
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    await page.getByLabel('API token').fill(p.token);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), p.token);
    await shot('projects');
  });

  it("lists a project's services and opens one with its instances", async () => {
    await page.getByRole('link', { name: 'shop' }).click();
    await page.getByRole('heading', { level: 1, name: 'shop' }).waitFor();
    await page.getByRole('list', { name: 'Services' }).getByText('completed').waitFor();
    await page.getByRole('link', { name: 'web' }).click();
    await page.getByRole('heading', { level: 1, name: 'web' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/ui/projects/shop/services/web');
    // Two ready instances of release 1, each row with its state, release, readiness and probes.
    // The page refreshes on its own: wait until it shows both rows ready (a probe slowed by a loaded machine
    // may count one failure on the way, which the page rightly shows).
    const rowTexts = async () => (await section('Instances').locator('tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
    await waitFor(async () => {
      const rows = await rowTexts();
      return rows.length === 2 && rows.every((t) => /\bready\b/.test(t) && /readiness: passing/.test(t));
    }, 30_000, 'two ready instance rows with passing readiness');
    // Each says since when it is ready (a relative time, its exact time on hover).
    const since = await section('Instances').locator('td[data-label="Ready"] time').all();
    assert.equal(since.length, 2);
    for (const t of since) assert.ok(Date.parse((await t.getAttribute('datetime'))!) <= Date.now());
    await page.getByRole('heading', { name: /Rollout #1: deploy to release 1/ }).waitFor();
  });

  it('restarts from the UI, following the rollout live until it completes', async () => {
    await page.getByRole('button', { name: 'Restart' }).click();
    await page.getByRole('status').filter({ hasText: 'Restarting every instance.' }).waitFor();
    await page.getByRole('heading', { name: /Rollout #2: restart to release 2 from 1/ }).waitFor();
    await waitFor(async () => /completed/.test(await textOf('Current rollout')), 60_000, 'rollout 2 completed in the page');
    await waitFor(async () => /2 of 2 instances on release 2 and ready \(100%\)/.test(await textOf('Current rollout')), 30_000, 'progress at 100%');
    // The steps came over the event stream, read with fetch so the token could go along.
    assert.ok(streams.some((s) => s.url.endsWith('/projects/shop/services/web/rollouts/2/events') && s.authorized), JSON.stringify(streams));
  });

  it('shows the logs live and searches them', async () => {
    const log = page.getByRole('log', { name: 'Service logs' });
    await waitFor(async () => /listening on \d+ as /.test(await log.innerText()), 30_000, 'a log line of the app');
    await page.getByLabel('Search logs').fill('listening on');
    await waitFor(async () => /\d+ of \d+ lines match “listening on”/.test(await textOf('Logs')), 10_000, 'the match count');
    for (const line of await log.locator('div').allInnerTexts()) assert.match(line, /listening on/);
    await log.scrollIntoViewIfNeeded();
    await shot('logs');
    await page.getByLabel('Search logs').fill('no such line anywhere');
    await waitFor(async () => /^0 of \d+ lines/.test((await section('Logs').locator('p.muted').innerText()).trim()), 10_000, 'no match');
    await page.getByLabel('Search logs').fill('');
  });

  it('rolls back with one click from the releases list', async () => {
    const releases = section('Releases');
    await waitFor(async () => (await releases.locator('tbody tr').count()) === 2, 30_000, 'two releases');
    assert.match((await releases.locator('tr[aria-current="true"]').innerText()).replace(/\s+/g, ' '), /^2\s*current/);
    await releases.getByRole('button', { name: 'Roll back to release 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Rolling back to release 1.' }).waitFor();
    await page.getByRole('heading', { name: /Rollout #3: rollback to release 1 from 2/ }).waitFor();
    await waitFor(async () => /completed/.test(await textOf('Current rollout')), 60_000, 'rollback completed in the page');
    await waitFor(async () => (await releases.locator('tr[aria-current="true"] th').innerText()).startsWith('1'), 30_000, 'release 1 current');
    assert.equal((await service()).release.number, 1);
    assert.equal(await releases.getByRole('button', { name: 'Roll back to release 2' }).count(), 1);
  });

  it('rolls out the newest release from the UI and shows its steps live until it completes', async () => {
    await page.getByRole('button', { name: 'Roll out' }).click();
    await page.getByRole('status').filter({ hasText: 'Rolling out the newest release.' }).waitFor();
    await page.getByRole('heading', { name: /Rollout #4: deploy to release 2 from 1/ }).waitFor();
    await waitFor(async () => /completed/.test(await textOf('Current rollout')), 60_000, 'rollout 4 completed in the page');
    await waitFor(async () => /2 of 2 instances on release 2 and ready \(100%\)/.test(await textOf('Current rollout')), 30_000, 'progress at 100%');
    const steps = await page.getByRole('list', { name: 'Steps of rollout 4' }).getByRole('listitem').allInnerTexts();
    assert.match(steps[0], /deploy to release 2 started \(rolling\)/);
    assert.ok(steps.length >= 2, steps.join('\n'));
    assert.ok(streams.some((s) => s.url.endsWith('/rollouts/4/events') && s.authorized), JSON.stringify(streams));
    const r = (await api(p, 'GET', '/projects/shop/services/web/rollouts')).body.rollouts[0];
    assert.deepEqual([r.number, r.status, r.toRelease], [4, 'COMPLETED', 2]);
    assert.equal((await service()).release.number, 2);
    await shot('service', true);
  });

  it('scales from the UI', async () => {
    await page.getByRole('spinbutton', { name: 'Instances' }).fill('3');
    await page.getByRole('button', { name: 'Scale' }).click();
    await page.getByRole('status').filter({ hasText: 'Scaling to 3 instances.' }).waitFor();
    await waitFor(async () => (await section('Instances').locator('tbody tr', { hasText: 'ready' }).count()) === 3, 60_000, 'three ready instances');
    assert.equal((await service()).deployment.instances, 3);
  });

  it('pauses and resumes from the UI', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('status').filter({ hasText: 'Paused' }).waitFor();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await waitFor(async () => (await section('Instances').locator('tbody tr').count()) === 0, 60_000, 'no instances while paused');
    assert.equal((await service()).paused, true);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await waitFor(async () => (await section('Instances').locator('tbody tr', { hasText: 'ready' }).count()) === 3, 60_000, 'three ready instances again');
    assert.equal((await service()).paused, false);
  });

  it('continues a paused canary and cancels another from the UI', async () => {
    const rollouts = async () => (await api(p, 'GET', '/projects/shop/services/web/rollouts')).body.rollouts as { number: number; status: string }[];
    const started = await api(p, 'POST', '/projects/shop/services/web/rollouts', { release: 1, strategy: 'canary', canary: { steps: [{ instanceWeight: 34 }] } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const go = page.getByRole('button', { name: 'Continue to all instances' });
    await go.waitFor({ timeout: 60_000 });
    await go.click();
    await waitFor(async () => (await rollouts())[0].status === 'COMPLETED', 60_000, 'canary continued to completion');

    const second = await api(p, 'POST', '/projects/shop/services/web/rollouts', { release: 2, strategy: 'canary', canary: { steps: [{ instanceWeight: 34 }] } });
    assert.equal(second.status, 200);
    const cancel = page.getByRole('button', { name: 'Cancel rollout' });
    await cancel.waitFor({ timeout: 60_000 });
    await cancel.click();
    await waitFor(async () => (await rollouts()).find((r) => r.number === second.body.number)?.status === 'CANCELED', 60_000, 'canary cancelled');
    await waitFor(async () => (await rollouts())[0].status === 'COMPLETED', 60_000, 'back on the previous release');
    assert.equal((await service()).release.number, 1);
  });

  it('says what a rollback restored, and lists what each release changed', async () => {
    const patched = await api(p, 'PATCH', '/v1/projects/shop/services/combined/web', { runtimeEnvironment: { GREETING: 'changed' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const changed = patched.body.data.release?.number ?? (await service()).release.number;
    await waitFor(async () => (await service()).status.deployment.status === 'COMPLETED', 60_000, 'the env change COMPLETED');
    const releases = section('Releases');
    // A row's text starts with its release number (then, for the current one, its badge).
    const row = async (n: number) => (await releases.locator('tbody tr').allInnerTexts()).find((t) => new RegExp(`^\\s*${n}(?!\\d)`).test(t)) ?? '';
    await waitFor(async () => /env \(GREETING\)/.test(await row(changed)), 30_000, 'the change listed');
    assert.match(await row(2), /restart/);
    await releases.getByRole('button', { name: 'Roll back to release 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Rolling back to release 1: restored env (GREETING)' }).waitFor();
    await waitFor(async () => (await service()).status.deployment.status === 'COMPLETED' && (await service()).release.number === 1, 60_000, 'back on release 1');
    assert.deepEqual((await service()).runtimeEnvironment ?? {}, {});
  });

  it('shows a build and its log', async () => {
    const builds = section('Builds');
    await builds.getByRole('button', { name: /^Show log of build / }).first().click();
    await waitFor(async () => (await builds.locator('pre').innerText()).trim().length > 0 && !/^Loading/.test(await builds.locator('pre').innerText()), 30_000, 'build log');
    assert.match((await builds.innerText()).replace(/\s+/g, ' '), /success/);
  });

  it('fits a phone: nothing wider than 375 px, tables become labelled cards', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'web' }).waitFor();
    await section('Instances').locator('tbody tr').first().waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page is ${width} px wide`);
    await shot('phone');
    // Keyboard: the skip link comes first and reaches the content.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  });
});
