/**
 * The dashboard as the place people work, in a real browser (the machine's Chromium, driven by playwright-core)
 * against a real platform: create a project and a service from a pushed git repository (with the push commands
 * the page shows, run as shown), set and reveal an environment variable, add a port policy with basic auth and
 * see the router enforce it over real HTTP, change the health check and watch the rollout, create a cron job and
 * see a run, tokens and registry credentials, delete the service. Every form shows the API's field error beside
 * the field for a bad value; every page passes an axe-core scan with no serious or critical violation, light and
 * dark, and fits 375 px. With SLIPWAY_SCREENSHOTS=1 it writes each page (desktop and phone) into docs/screenshots/ui-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, assertAccessible, fieldError, launchChromium, assertFitsPhone } from './support/browser.ts';
import { ROOT, api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const SHOTS = process.env.SLIPWAY_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : undefined;
const DESKTOP = { width: 1200, height: 820 };
const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

describe('dashboard: create, configure and watch from the browser', { concurrency: false }, () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('hello');
  const streams: { url: string; authorized: boolean }[] = [];
  const scanned: string[] = [];

  const h1 = (name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();
  const region = (name: string) => page.getByRole('region', { name });
  const textOf = async (name: string) => (await region(name).innerText()).replace(/\s+/g, ' ');

  const errorBeside = (label: string, scope: Page | ReturnType<Page['locator']> = page) => fieldError(page, label, scope);
  const axe = async (what: string) => {
    await assertAccessible(page, what);
    scanned.push(what);
  };

  /** Scan a page, check it fits a phone, and (when asked) screenshot it at both widths. */
  const check = async (name: string) => {
    await axe(name);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `ui-${name}.png`) });
    await assertFitsPhone(page, name);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `ui-${name}-phone.png`) });
    await page.setViewportSize(DESKTOP);
  };

  const service = async (s = 'web') => (await api(p, 'GET', `/v1/projects/demo/services/${s}`)).body.data;
  /** The newest rollout the service has (0 for none), to tell the rollout of the next change from the last one. */
  const lastRollout = async (): Promise<number> => {
    const r = await api(p, 'GET', '/projects/demo/services/web/rollouts');
    return Math.max(0, ...((r.body as { rollouts?: { number: number }[] }).rollouts ?? []).map((x) => x.number));
  };
  /** Waits until the page shows a rollout newer than `before` completed (the panel keeps the previous one until then). */
  const rolloutDone = async (before: number) =>
    waitFor(async () => {
      const m = /rollout #(\d+) .*completed\./.exec(await textOf('Rollout of your change'));
      return !!m && Number(m[1]) > before;
    }, 120_000, `a rollout after #${before} completed in the page`);

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    if (SHOTS) fs.mkdirSync(SHOTS, { recursive: true });
    p = await startTestPlatform();
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as a script tag, which the dashboard's Content-Security-Policy (rightly) refuses.
    page = await browser.newPage({ viewport: DESKTOP, colorScheme: 'light', bypassCSP: true });
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

  it('signs in and offers to create the first project', async () => {
    await page.goto(`${p.apiUrl}/ui/`);
    await h1('Sign in');
    await check('sign-in');
    await page.getByLabel('API token').fill(p.token);
    await page.getByLabel('API token').press('Enter');
    await h1('Projects');
    await page.getByText('No projects yet').waitFor();
    await check('overview-empty');
    // Keyboard: the empty state's action is a link reached with Tab and followed with Enter.
    for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Create your first project'; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Create your first project', 'reached with Tab');
    assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), 'solid', 'focus is visible');
    await page.keyboard.press('Enter');
    await h1('New project');
  });

  it('creates a project; a bad name is refused beside the field', async () => {
    await page.getByLabel('Name', { exact: true }).fill('x');
    await page.getByRole('button', { name: 'Create project' }).click();
    assert.match(await errorBeside('Name'), /at least 3 characters/);
    await check('new-project');
    await page.getByLabel('Name', { exact: true }).fill('demo');
    await page.getByLabel('Description (optional)').fill('The demo app');
    await page.getByRole('button', { name: 'Create project' }).click();
    await h1('demo');
    await page.getByText('This project has no services yet').waitFor();
    assert.equal((await api(p, 'GET', '/v1/projects/demo')).body.data.description, 'The demo app');
  });

  it('creates a service from a pushed git repository, with the push commands the page shows', async () => {
    await page.getByRole('link', { name: 'New service' }).click();
    await h1('New service');
    await page.getByLabel('Name', { exact: true }).fill('web');
    await page.getByLabel('HTTP port the app listens on').fill('70000');
    await page.getByRole('button', { name: 'Create service' }).click();
    assert.match(await errorBeside('HTTP port the app listens on'), /<= 65535/);
    await check('new-service');
    assert.equal((await api(p, 'GET', '/v1/projects/demo/services/web')).status, 404, 'nothing half-created');
    await page.getByLabel('HTTP port the app listens on').fill('8080');
    await page.getByRole('button', { name: 'Create service' }).click();
    await h1('Push your code to web');
    const oneLine = (await page.getByLabel('git push in one line').innerText()).trim();
    const apiHost = new URL(p.apiUrl).host;
    assert.equal(oneLine, `git push http://git:$SLIPWAY_TOKEN@${apiHost}/git/demo/web.git main`);
    assert.match(await page.getByLabel('git push commands').innerText(), new RegExp(`git remote add slipway http://git@${apiHost}/git/demo/web.git\\ngit push slipway main`));
    await check('new-service-push');
    // Run the command as shown, with the token in the variable it names.
    const pushed = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('sh', ['-c', oneLine], { cwd: repo.dir, env: { ...GIT_ENV, SLIPWAY_TOKEN: p.token } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })),
    );
    assert.equal(pushed.code, 0, pushed.out);
    await page.getByRole('link', { name: 'Go to the service and watch the build' }).click();
    await h1('web');
    await waitFor(async () => (await service()).status.deployment.status === 'COMPLETED', 180_000, 'the pushed commit built and deployed');
    const res = await viaRouter(p, 'web.demo.localhost');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { message: string }).message, 'hello');
  });

  it('shows every project live on the overview: status, ready/wanted, release and last rollout', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await h1('Projects');
    const row = page.locator('tr[data-service="web"]');
    await waitFor(async () => /completed/.test(await row.innerText()) && /1\/1 ready/.test(await row.innerText()) && /#1 deploy/.test(await row.innerText()), 30_000, 'the web row');
    assert.ok(streams.some((s) => s.url.endsWith('/overview') && s.authorized), JSON.stringify(streams));
    // The same read as JSON (the page takes it as a stream); like every API route it needs a token.
    const o = (await api(p, 'GET', '/overview')).body as { projects: { id: string; services: Record<string, unknown>[] }[] };
    assert.deepEqual(
      o.projects.map((x) => [x.id, x.services.map((v) => [v.id, v.kind, v.status, v.ready, v.wanted, v.release, (v.lastRollout as { status: string }).status])]),
      [['demo', [['web', 'combined', 'COMPLETED', 1, 1, 1, 'COMPLETED']]]],
    );
    assert.equal((await api(p, 'GET', '/overview', undefined, { token: null })).status, 401);
    await check('overview');
    await page.getByRole('link', { name: 'demo', exact: true }).click();
    await h1('demo');
    await check('project');
    await page.getByRole('link', { name: 'web', exact: true }).click();
    await h1('web');
    await check('service');
  });

  it('sets an environment variable, follows its rollout, and reveals the value', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await h1('Settings of web');
    const env = region('Environment variables');
    await env.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of variable 1').fill('1BAD');
    await page.getByLabel('Value of 1BAD', { exact: true }).fill('x');
    await env.getByRole('button', { name: 'Save variables' }).click();
    assert.match(await errorBeside('Value of 1BAD'), /variable names must match/);
    await page.getByLabel('Name of variable 1').fill('GREETING');
    await page.getByLabel('Value of GREETING', { exact: true }).fill('hi there');
    await page.getByLabel('Paste a .env', { exact: false }).fill('# pasted\nLOG_LEVEL=debug\nexport QUOTED="a b"');
    const last = await lastRollout();
    await env.getByRole('button', { name: 'Save variables' }).click();
    await rolloutDone(last);
    assert.deepEqual((await service()).runtimeEnvironment, { GREETING: 'hi there', LOG_LEVEL: 'debug', QUOTED: 'a b' });
    await waitFor(async () => ((await (await viaRouter(p, 'web.demo.localhost')).json()) as { message: string }).message === 'hi there', 30_000, 'the app sees GREETING');
    // Saved values come back hidden; "Show" reveals one.
    const value = page.getByLabel('Value of GREETING', { exact: true });
    await waitFor(async () => (await value.getAttribute('type')) === 'password', 10_000, 'the value hidden');
    await page.getByRole('button', { name: 'Show Value of GREETING' }).click();
    assert.equal(await value.getAttribute('type'), 'text');
    assert.equal(await value.inputValue(), 'hi there');
    await check('settings');
  });

  it('adds basic auth to the port and the router enforces it', async () => {
    const ports = region('Ports, domains and access');
    await ports.getByText('Access policies').click();
    await ports.getByRole('button', { name: 'Add user to port p01' }).click();
    await page.getByLabel('User 1 name').fill('a');
    await page.getByLabel('User 1 password', { exact: true }).fill('s3cret-pass');
    await ports.getByRole('button', { name: 'Save ports' }).click();
    assert.match(await errorBeside('User 1 name'), /at least 3 characters/);
    await page.getByLabel('User 1 name').fill('admin');
    await ports.getByRole('button', { name: 'Save ports' }).click();
    await waitFor(async () => (await viaRouter(p, 'web.demo.localhost')).status === 401, 120_000, 'the router asks for credentials');
    const basic = (u: string, pw: string) => ({ headers: { authorization: `Basic ${Buffer.from(`${u}:${pw}`).toString('base64')}` } });
    assert.equal((await viaRouter(p, 'web.demo.localhost', '/', basic('admin', 'wrong'))).status, 401);
    const ok = await viaRouter(p, 'web.demo.localhost', '/', basic('admin', 's3cret-pass'));
    assert.equal(ok.status, 200);
    // The password is never read back: the page keeps it without showing it.
    assert.equal((await service()).ports[0].security.credentials[0].password, '[redacted]');
  });

  it('changes the health check and watches the rollout it makes', async () => {
    const health = region('Health checks');
    await health.getByRole('button', { name: 'Add check' }).click();
    await page.getByLabel('Path', { exact: true }).fill('/health');
    await page.getByLabel('Period (s, 10-600)').fill('5');
    await health.getByRole('button', { name: 'Save health checks' }).click();
    assert.match(await errorBeside('Period (s, 10-600)'), />= 10/);
    await page.getByLabel('Period (s, 10-600)').fill('10');
    const last = await lastRollout();
    await health.getByRole('button', { name: 'Save health checks' }).click();
    await rolloutDone(last);
    const steps = await page.getByRole('list', { name: 'Steps of the rollout' }).getByRole('listitem').allInnerTexts();
    assert.ok(steps.length >= 2, steps.join('\n'));
    assert.deepEqual((await service()).healthChecks.map((h: { path: string; periodSeconds: number }) => [h.path, h.periodSeconds]), [['/health', 10]]);
  });

  it('adds a runtime file (an absolute path, or an error beside the path)', async () => {
    const files = region('Runtime files');
    await files.getByRole('button', { name: 'Add file' }).click();
    await files.getByLabel('Path', { exact: true }).fill('config.json');
    await files.getByRole('button', { name: 'Save files' }).click();
    assert.match(await errorBeside('Path', files), /must be absolute/);
    await files.getByLabel('Path', { exact: true }).fill('/tmp/slipway-ui-config.json');
    await files.getByLabel('Content of /tmp/slipway-ui-config.json').fill('{"mode":"ui"}');
    const last = await lastRollout();
    await files.getByRole('button', { name: 'Save files' }).click();
    await rolloutDone(last);
    assert.deepEqual((await service()).runtimeFiles, { '/tmp/slipway-ui-config.json': { data: '{"mode":"ui"}' } });
    assert.equal((await service()).runtimeEnvironment.GREETING, 'hi there', 'the variables kept');
  });

  it('shows the dry-run plan before saving instances and strategy', async () => {
    const scale = region('Instances and strategy');
    await page.getByLabel('Instances', { exact: true }).fill('2');
    await scale.getByRole('button', { name: 'Show the rollout plan' }).click();
    await page.getByRole('list', { name: 'Rollout plan' }).waitFor();
    assert.match(await textOf('Instances and strategy'), /The next rollout would take \d+ steps?/);
    assert.equal((await service()).deployment.instances, 1, 'nothing changed by the plan');
    await scale.getByRole('button', { name: 'Save instances and strategy' }).click();
    await waitFor(async () => (await service()).deployment.instances === 2, 30_000, 'two instances wanted');
    await waitFor(async () => /completed\.|applied without a rollout/.test(await textOf('Rollout of your change')), 120_000, 'the change followed');
  });

  it('switches continuous deployment off and on', async () => {
    const cd = region('Continuous deployment');
    await cd.getByRole('button', { name: 'Turn continuous deployment off' }).click();
    await cd.getByText('Off: builds wait for a manual deploy').waitFor();
    assert.equal((await api(p, 'GET', '/projects/demo/services/web/cd')).body.enabled, false);
    await cd.getByRole('button', { name: 'Turn continuous deployment on' }).click();
    await cd.getByText('On: every successful build rolls out.').waitFor();
    assert.equal((await api(p, 'GET', '/projects/demo/services/web/cd')).body.enabled, true);
  });

  it('creates a cron job, shows its schedule in words and local time, and shows a run with its output', async () => {
    await page.goto(`${p.apiUrl}/ui/projects/demo/jobs`);
    await h1('Jobs of demo');
    await page.getByText('No jobs yet').waitFor();
    await page.getByRole('link', { name: 'New job' }).click();
    await h1('New job');
    await page.getByLabel('Name', { exact: true }).fill('report');
    await page.getByLabel('Schedule (cron, UTC)').fill('every day');
    await page.getByLabel('Run the code of').selectOption('web');
    await page.getByLabel('Command (optional)').fill('echo job-ran');
    await page.getByRole('button', { name: 'Create job' }).click();
    assert.ok((await errorBeside('Schedule (cron, UTC)')).length > 0);
    await page.getByLabel('Schedule (cron, UTC)').fill('30 4 * * 1');
    assert.match(await page.getByText('at 04:30 UTC on Monday').innerText(), /Next in your time: Mon/);
    await check('new-job');
    await page.getByLabel('Schedule (cron, UTC)').fill('*/5 * * * * *');
    await page.getByRole('button', { name: 'Create job' }).click();
    await h1('report');
    assert.match(await page.locator('.facts-block').innerText(), /every 5 seconds/);
    const runs = region('Runs');
    await waitFor(async () => (await runs.locator('tbody tr', { hasText: 'succeeded' }).count()) > 0, 180_000, 'a scheduled run succeeded');
    const row = runs.locator('tbody tr', { hasText: 'succeeded' }).first();
    assert.match((await row.innerText()).replace(/\s+/g, ' '), /scheduled\s+succeeded.*\s0\s+\d+ s/);
    await page.getByRole('button', { name: 'Suspend schedule' }).click();
    await page.getByRole('button', { name: 'Resume schedule' }).waitFor();
    await row.getByRole('button', { name: /Show logs of run/ }).click();
    await waitFor(async () => /job-ran/.test(await page.getByRole('log', { name: 'Run output' }).innerText()), 30_000, 'the run output');
    // Run now with a command override.
    await page.getByLabel('Command override (optional)').fill('echo override-$EXTRA');
    await page.getByLabel('Extra variables for this run (.env lines, optional)').fill('EXTRA=ran');
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('status').filter({ hasText: /Started run \d+/ }).waitFor();
    const number = Number(/Started run (\d+)/.exec(await page.getByRole('status').filter({ hasText: /Started run/ }).innerText())![1]);
    const runId = await waitFor(async () => {
      const list = (await api(p, 'GET', '/v1/projects/demo/jobs/report/runs')).body.data.runs as { id: string; number: number; runStatus: string }[];
      const r = list.find((x) => x.number === number);
      return r?.runStatus === 'SUCCEEDED' ? r.id : undefined;
    }, 120_000, 'the manual run succeeded');
    const out = (await api(p, 'GET', `/projects/demo/jobs/report/runs/${runId}/logs`)).body.lines.map((l: { line: string }) => l.line).join('\n');
    assert.match(out, /override-ran/);
    await check('job');
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await h1('Jobs of demo');
    await check('jobs');
  });

  it('makes an API token (shown once) and saves registry credentials; an image service names them', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
    await h1('API tokens');
    await page.getByRole('button', { name: 'Create token' }).click();
    assert.match(await errorBeside('Name'), /at least 1 characters/);
    await page.getByLabel('Name', { exact: true }).fill('ci deploy');
    await page.getByLabel('Project', { exact: true }).fill('demo');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByLabel('The new token').innerText()).trim();
    assert.equal((await api(p, 'GET', '/v1/projects/demo/services', undefined, { token })).status, 200, 'the new token works');
    await region('Tokens').getByRole('rowheader', { name: 'ci deploy' }).waitFor();
    await check('tokens');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Registries' }).click();
    await h1('Registry credentials');
    await page.getByLabel('Name', { exact: true }).fill('x');
    await page.getByLabel('Username').fill('robot');
    await page.getByLabel('Password or access token', { exact: true }).fill('hunter2-token');
    await page.getByRole('button', { name: 'Save credentials' }).click();
    assert.match(await errorBeside('Name'), /at least 3 characters/);
    await page.getByLabel('Name', { exact: true }).fill('hub robot');
    await page.getByLabel('Password or access token', { exact: true }).fill('hunter2-token');
    await page.getByRole('button', { name: 'Save credentials' }).click();
    await region('Saved credentials').getByRole('rowheader', { name: /hub robot/ }).waitFor();
    assert.ok(!(await page.content()).includes('hunter2-token'), 'the password is not shown after saving');
    await check('registries');

    // An image service with those credentials: the process runtime cannot run images, and says so beside the field.
    await page.goto(`${p.apiUrl}/ui/projects/demo/new-service`);
    await h1('New service');
    await page.getByLabel('Name', { exact: true }).fill('imaged');
    await page.getByLabel('From an image').check();
    await page.getByLabel('Image', { exact: true }).fill('docker.io/library/nginx:1.27');
    await page.getByLabel('Registry credentials').selectOption('hub-robot');
    await page.getByRole('button', { name: 'Create service' }).click();
    assert.match(await errorBeside('Image'), /image deployments need the container runtime/);
  });

  it('creates a service from an uploaded archive', async () => {
    const tgz = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-upload-')), 'hello.tar.gz');
    execFileSync('tar', ['czf', tgz, '-C', path.join(ROOT, 'test/fixtures/apps/hello'), '.']);
    await page.getByLabel('Name', { exact: true }).fill('uploaded');
    await page.getByLabel('Upload a folder or archive').check();
    await page.getByLabel('…or a .tar.gz archive').setInputFiles(tgz);
    await page.getByLabel('HTTP port the app listens on').fill('8080');
    await page.getByRole('button', { name: 'Create service' }).click();
    await h1('uploaded');
    await waitFor(async () => (await service('uploaded')).status.deployment.status === 'COMPLETED', 180_000, 'the upload built and deployed');
    fs.rmSync(path.dirname(tgz), { recursive: true, force: true });
  });

  it('deletes a job and a service, each confirmed by typing its name', async () => {
    await page.goto(`${p.apiUrl}/ui/projects/demo/jobs/report`);
    await h1('report');
    await page.getByRole('button', { name: 'Delete job' }).click();
    const jobDialog = page.getByRole('dialog', { name: 'Delete report?' });
    await jobDialog.getByLabel('Type report to confirm').fill('report');
    await jobDialog.getByRole('button', { name: 'Delete job' }).click();
    await h1('Jobs of demo');

    await page.goto(`${p.apiUrl}/ui/projects/demo/services/web/settings`);
    await h1('Settings of web');
    await page.getByRole('button', { name: 'Delete service' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete web?' });
    const confirm = dialog.getByRole('button', { name: 'Delete web' });
    assert.equal(await confirm.isDisabled(), true, 'disabled until the name is typed');
    await dialog.getByLabel('Type web to confirm').fill('we');
    assert.equal(await confirm.isDisabled(), true);
    await axe('delete-dialog');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'ui-delete-dialog.png') });
    // Escape cancels; nothing is deleted.
    await page.keyboard.press('Escape');
    assert.equal(await dialog.isVisible(), false);
    assert.equal((await api(p, 'GET', '/v1/projects/demo/services/web')).status, 200);
    await page.getByRole('button', { name: 'Delete service' }).click();
    await dialog.getByLabel('Type web to confirm').fill('web');
    await confirm.click();
    await h1('demo');
    assert.equal((await api(p, 'GET', '/v1/projects/demo/services/web')).status, 404);
    await waitFor(async () => (await viaRouter(p, 'web.demo.localhost')).status !== 200, 60_000, 'the router stops answering for web');
  });

  it('scanned every page', () => {
    for (const name of ['sign-in', 'overview-empty', 'overview', 'new-project', 'project', 'new-service', 'new-service-push', 'service', 'settings', 'new-job', 'job', 'jobs', 'tokens', 'registries', 'delete-dialog']) assert.ok(scanned.includes(name), `${name} scanned`);
  });
});
