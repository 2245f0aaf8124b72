/**
 * The dashboard's service page shows the service's volume (size, mount path, state) and its backups, and
 * backs it up from a button; in a real browser (the machine's Chromium) against a real platform.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ROOT, api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { CHROMIUM, launchChromium, openPage, signIn } from './support/browser.ts';


describe('the dashboard shows a service’s volume', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;
  const repo = fixtureRepo('volume-app');

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'shop' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/shop/services/combined', {
      name: 'keeper',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { DATA_DIR: '/data' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const vol = await api(p, 'POST', '/v1/projects/shop/volumes', { name: 'data', mounts: [{ containerMountPath: '/data' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 2048 }, attachedObjects: [{ id: 'keeper', type: 'service' }] });
    assert.equal(vol.status, 200, JSON.stringify(vol.body));
    browser = await launchChromium();
    page = await openPage(browser);
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
    fs.rmSync(repo.dir, { recursive: true, force: true });
  });

  it('shows size, mount path and backups, and backs up from the page', async () => {
    await signIn(page, p);
    await page.goto(`${p.apiUrl}/ui/projects/shop/services/keeper`);
    const panel = page.getByRole('region', { name: 'Volume' });
    await panel.waitFor();
    const text = async () => (await panel.innerText()).replace(/\s+/g, ' ');
    await waitFor(async () => /data/.test(await text()) && /2048 MB/.test(await text()) && /\/data/.test(await text()) && /BOUND/.test(await text()), 120_000, 'the volume panel');
    await panel.getByRole('button', { name: 'Back up now' }).click();
    await waitFor(async () => /dashboard .*completed/.test(await text()), 120_000, 'a completed backup listed');
    const backups = (await api(p, 'GET', '/v1/projects/shop/volumes/data/backups')).body.data as { status: string }[];
    assert.deepEqual(backups.map((b) => b.status), ['completed']);
  });
});
