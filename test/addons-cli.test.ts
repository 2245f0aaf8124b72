/**
 * `slipway addons` as a user runs it (the real binary against a real platform): a Redis addon created and
 * waited for, its credentials printed, a backup taken and restored, its credentials rotated, a dump imported
 * from a URL and from an uploaded file, the addon deleted only with --yes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { ROOT, api, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

describe('slipway addons CLI', () => {
  let p: RunningPlatform;
  let home: string;

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_') && k !== 'NO_COLOR'));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/slipway.mjs'), ...args], {
      cwd: home,
      env: { ...base, SLIPWAY_CONFIG: path.join(home, 'slipway.json'), SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, SLIPWAY_PROJECT: 'clidata' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const ok = (r: { code: number | null; stdout: string; stderr: string }, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);

  before(async () => {
    p = await startTestPlatform();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-addons-'));
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'clidata' })).status, 200);
  });
  after(async () => {
    await p?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('creates, backs up, restores and deletes an addon', async () => {
    const types = await cli(['addons', 'types']);
    ok(types, 'types');
    assert.match(types.stdout, /postgresql/);
    assert.match(types.stdout, /MariaDB/);

    const created = await cli(['addons', 'create', 'cache', '-t', 'redis', '--plan', 'nf-compute-10']);
    ok(created, 'create');
    assert.match(created.stdout, /is running/);
    const listed = await cli(['addons', 'list']);
    ok(listed, 'list');
    assert.match(listed.stdout, /cache\s+redis\s+running/);

    const creds = await cli(['addons', 'credentials', 'cache', '--json']);
    ok(creds, 'credentials');
    const url = JSON.parse(creds.stdout).data.secrets.redisMasterUrl as string;
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    await r.set('k', 'before');

    const backup = await cli(['addons', 'backup', 'cache', '--name', 'first', '--json']);
    ok(backup, 'backup');
    const backupId = JSON.parse(backup.stdout).data.id as string;
    assert.equal(JSON.parse(backup.stdout).data.status, 'completed');
    await r.set('k', 'after');
    r.disconnect();

    const restore = await cli(['addons', 'restore', 'cache', backupId]);
    ok(restore, 'restore');
    assert.match(restore.stdout, /completed/);
    const r2 = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r2.on('error', () => {});
    await waitFor(async () => {
      await r2.connect().catch(() => {});
      return (await r2.get('k').catch(() => undefined)) === 'before';
    }, 60_000, 'the restored value');
    await r2.set('k', 'latest');
    r2.disconnect();

    // A rotation: waits until the old login is retired; the new credentials work.
    const rotated = await cli(['addons', 'rotate', 'cache']);
    ok(rotated, 'rotate');
    assert.match(rotated.stdout, /old login retired/);
    const url2 = JSON.parse((await cli(['addons', 'credentials', 'cache', '--json'])).stdout).data.secrets.redisMasterUrl as string;
    assert.notEqual(url2, url);

    // An import from a URL: the first backup's RDB, served by a local HTTP server.
    const rdb = Buffer.from(await (await fetch(`${p.apiUrl}/v1/projects/clidata/addons/cache/backups/${backupId}/download`, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    const server = http.createServer((_req, res) => res.end(rdb));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const noSource = await cli(['addons', 'import', 'cache']);
      assert.equal(noSource.code, 2, 'an import names its source');
      const imported = await cli(['addons', 'import', 'cache', '--url', `http://127.0.0.1:${(server.address() as AddressInfo).port}/cache.rdb`]);
      ok(imported, 'import');
      assert.match(imported.stdout, /Import completed/);
    } finally {
      server.close();
    }
    const r3 = new Redis(url2, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r3.on('error', () => {});
    await waitFor(async () => {
      await r3.connect().catch(() => {});
      return (await r3.get('k').catch(() => undefined)) === 'before';
    }, 60_000, 'the imported value');

    // An import of a dump file, uploaded (gzipped); a file of another kind is refused by field, nothing made.
    await r3.set('k', 'before the upload');
    fs.writeFileSync(path.join(home, 'cache.rdb.gz'), zlib.gzipSync(rdb));
    fs.writeFileSync(path.join(home, 'notes.txt'), 'not a dump\n');
    const backupsBefore = (await api(p, 'GET', '/v1/projects/clidata/addons/cache/backups')).body.data.backups.length;
    const refusedFile = await cli(['addons', 'import', 'cache', '--file', 'notes.txt']);
    assert.equal(refusedFile.code, 1, refusedFile.stderr);
    assert.match(refusedFile.stderr, /file: the uploaded file is not a Redis RDB file/);
    assert.equal((await api(p, 'GET', '/v1/projects/clidata/addons/cache/backups')).body.data.backups.length, backupsBefore, 'nothing made');
    const uploaded = await cli(['addons', 'import', 'cache', '--file', 'cache.rdb.gz', '--name', 'uploaded rdb']);
    ok(uploaded, 'import --file');
    assert.match(uploaded.stdout, /Import completed/);
    await waitFor(async () => {
      await r3.connect().catch(() => {});
      return (await r3.get('k').catch(() => undefined)) === 'before';
    }, 60_000, 'the uploaded value');
    const backups = (await api(p, 'GET', '/v1/projects/clidata/addons/cache/backups')).body.data.backups as { name: string; config: { source: { type: string } } }[];
    assert.equal(backups.find((b) => b.name === 'uploaded rdb')?.config.source.type, 'fileUpload');
    r3.disconnect();

    const refused = await cli(['addons', 'delete', 'cache']);
    assert.equal(refused.code, 2, 'delete without --yes is refused');
    ok(await cli(['addons', 'delete', 'cache', '--yes']), 'delete');
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/clidata/addons/cache')).status === 404, 60_000, 'deleted');
    const bad = await cli(['addons', 'create', 'nope', '-t', 'mongodb', '--no-wait']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /type/);
  });
});
