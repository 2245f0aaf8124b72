/**
 * The dashboard's secret group views in a real browser (the machine's Chromium, driven by playwright-core)
 * against a real platform: a project's groups with what they apply to, and a service's environment with
 * each value's source, values hidden until revealed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ROOT, api, fixtureRepo, startTestPlatform, type RunningPlatform } from './support/platform.ts';
import { CHROMIUM, launchChromium, openPage } from './support/browser.ts';


describe('dashboard: secret groups and a service environment', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('hello');
  const section = (name: string) => page.getByRole('region', { name });

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'dash' })).status, 200);
    const svc = await api(p, 'POST', '/v1/projects/dash/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { OWN: 'mine' },
    });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const group = await api(p, 'POST', '/v1/projects/dash/secrets', { name: 'shared', secretType: 'environment', priority: 10, secrets: { variables: { GREETING: 'from the group', OWN: 'group value' } } });
    assert.equal(group.status, 200, JSON.stringify(group.body));
    await api(p, 'POST', '/v1/projects/dash/secrets', { name: 'tagged', secretType: 'arguments', priority: 5, restrictions: { restricted: true, tags: ['production'] } });

    browser = await launchChromium();
    page = await openPage(browser);
    await page.goto(`${p.apiUrl}/ui/`);
    await page.evaluate((t) => sessionStorage.setItem('slipway.token', t), p.token);
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it("lists a project's groups and what each applies to", async () => {
    await page.goto(`${p.apiUrl}/ui/projects/dash`);
    const rows = section('Secret groups').locator('tbody tr');
    await rows.nth(1).waitFor();
    const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.match(texts[0], /shared secret runtime variables 10 every service and job/);
    assert.match(texts[1], /tagged secret build arguments 5 tag production/);
  });

  it("shows a service's environment with each value's source, hidden until revealed", async () => {
    await page.goto(`${p.apiUrl}/ui/projects/dash/services/web`);
    const env = section('Environment');
    const greeting = env.locator('tbody tr', { hasText: 'GREETING' });
    await greeting.waitFor();
    assert.ok(!(await env.innerText()).includes('from the group'), 'values hidden at first');
    assert.match(await greeting.innerText(), /group shared \(priority 10\)/);
    await env.getByRole('button', { name: 'Reveal GREETING' }).click();
    await greeting.getByText('from the group').waitFor();
    const own = (await env.locator('tbody tr', { hasText: 'OWN' }).innerText()).replace(/\s+/g, ' ');
    assert.match(own, /this service shared \(10\)/);
    assert.ok(!own.includes('mine'), 'another row stays hidden');
  });
});
