/**
 * The dashboard's addon screens in a real browser (the machine's Chromium through playwright-core) against a
 * real platform: the project page lists a Redis addon as running; its page takes a backup and restores it,
 * rotates the credentials, imports a dump from a URL and an uploaded dump file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { Redis } from 'ioredis';
import { ROOT, api, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { CHROMIUM, launchChromium, openPage } from './support/browser.ts';


describe('dashboard: addons', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let page: Page;

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'uidata' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/uidata/addons', { name: 'cache', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-10', storage: 1024, replicas: 1 } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/uidata/addons/cache')).body.data.status === 'running', 120_000, 'addon running');
    browser = await launchChromium();
    page = await openPage(browser);
    page.on('dialog', (d) => void d.accept());
  });
  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  it('lists the addon, backs it up and restores the backup', async () => {
    const url = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/credentials')).body.data.secrets.redisMasterUrl as string;
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    await r.set('k', 'backed up');
    r.disconnect();

    await page.goto(`${p.apiUrl}/ui/`);
    await page.getByLabel('API token').fill(p.token);
    await page.getByLabel('API token').press('Enter');
    await page.getByRole('link', { name: 'uidata' }).click();
    await page.getByRole('list', { name: 'Addons' }).getByText('running').waitFor();
    await page.getByRole('link', { name: 'cache' }).click();
    await page.getByRole('heading', { level: 1, name: 'cache' }).waitFor();
    await page.getByText('no external access').waitFor();
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByRole('table', { name: 'Backups' }).getByText('completed').waitFor();

    const r2 = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r2.on('error', () => {});
    await r2.connect();
    await r2.set('k', 'changed');
    r2.disconnect();

    await page.getByRole('table', { name: 'Backups' }).getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog', { name: /^Restore '/ }).getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('list', { name: 'Restores' }).getByText('completed').waitFor();
    await waitFor(async () => {
      const r3 = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      r3.on('error', () => {});
      try {
        await r3.connect();
        return (await r3.get('k')) === 'backed up';
      } finally {
        r3.disconnect();
      }
    }, 60_000, 'the backed-up value');
  });

  it('rotates the credentials and imports a dump from a URL', async () => {
    const before = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/credentials')).body.data.secrets.redisMasterUrl as string;
    await page.getByRole('button', { name: 'Rotate credentials' }).click();
    await page.getByText('Rotation requested.').waitFor();
    // Over once the credentials changed and the replaced password is retired; the page says so again.
    const url = await waitFor(async () => {
      const now = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/credentials')).body.data.secrets.redisMasterUrl as string;
      const state = (await api(p, 'GET', '/projects/uidata/addons/cache/credentials/rotation')).body.state as string;
      return now !== before && state === 'idle' ? now : undefined;
    }, 120_000, 'rotation over');
    await page.getByText('No rotation under way.').waitFor();

    const backups = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/backups')).body.data.backups as { id: string }[];
    const rdb = Buffer.from(await (await fetch(`${p.apiUrl}/v1/projects/uidata/addons/cache/backups/${backups[0].id}/download`, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    const server = http.createServer((_req, res) => res.end(rdb));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      r.on('error', () => {});
      await r.connect();
      await r.set('k', 'changed again');
      r.disconnect();
      await page.getByLabel('Import a dump from a URL').fill(`http://127.0.0.1:${(server.address() as AddressInfo).port}/cache.rdb`);
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.getByRole('dialog', { name: /^Import / }).getByRole('button', { name: 'Import', exact: true }).click();
      await page.getByText('Import scheduled').waitFor();
      await waitFor(async () => {
        const r3 = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
        r3.on('error', () => {});
        try {
          await r3.connect();
          return (await r3.get('k')) === 'backed up';
        } catch {
          return false;
        } finally {
          r3.disconnect();
        }
      }, 120_000, 'the imported value');
    } finally {
      server.close();
    }
  });

  it('imports an uploaded dump file, and shows why a file of another kind is refused', async () => {
    const url = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/credentials')).body.data.secrets.redisMasterUrl as string;
    const backups = (await api(p, 'GET', '/v1/projects/uidata/addons/cache/backups')).body.data.backups as { id: string }[];
    const first = backups[backups.length - 1];
    const rdb = Buffer.from(await (await fetch(`${p.apiUrl}/v1/projects/uidata/addons/cache/backups/${first.id}/download`, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-ui-upload-'));
    try {
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a dump\n');
      fs.writeFileSync(path.join(dir, 'cache.rdb.gz'), zlib.gzipSync(rdb));
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      r.on('error', () => {});
      await r.connect();
      await r.set('k', 'before the upload');
      r.disconnect();
      const count = backups.length;

      await page.getByLabel('Import a dump file').setInputFiles(path.join(dir, 'notes.txt'));
      await page.getByRole('button', { name: 'Upload and import' }).click();
      const refusing = page.getByRole('dialog', { name: 'Import notes.txt?' });
      await refusing.getByRole('button', { name: 'Upload and import' }).click();
      await refusing.getByRole('alert').getByText(/not a Redis RDB file/).waitFor();
      await refusing.getByRole('button', { name: 'Cancel' }).click();
      assert.equal((await api(p, 'GET', '/v1/projects/uidata/addons/cache/backups')).body.data.backups.length, count, 'nothing made');

      await page.getByLabel('Import a dump file').setInputFiles(path.join(dir, 'cache.rdb.gz'));
      await page.getByRole('button', { name: 'Upload and import' }).click();
      await page.getByRole('dialog', { name: 'Import cache.rdb.gz?' }).getByRole('button', { name: 'Upload and import' }).click();
      await page.getByText('Upload received and checked').waitFor();
      await waitFor(async () => {
        const r3 = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
        r3.on('error', () => {});
        try {
          await r3.connect();
          return (await r3.get('k')) === 'backed up';
        } catch {
          return false;
        } finally {
          r3.disconnect();
        }
      }, 120_000, 'the uploaded value');
      await page.getByRole('table', { name: 'Backups' }).getByText('completed').first().waitFor();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
