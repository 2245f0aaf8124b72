/**
 * bench/addon-backup: dump and restore throughput of a PostgreSQL addon through slipway (backup.addon with
 * backupType dump, then restore.addon.backup, through the official client) beside plain `pg_dump -Fc` and
 * `pg_restore --single-transaction` of the same database on the same server, in the same run.
 *   node --import tsx bench/addon-backup.ts [sizeMb=1024]
 * The database is generated in the addon (one table of 256-character rows) until it holds about sizeMb.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { northflankClient, startTestPlatform, waitFor } from '../test/support/platform.ts';
import { waitForAddonStatus } from '../test/support/addons.ts';

const sizeMb = Number(process.argv[2] ?? 1024);
const PROJECT = 'bench';
const ADDON = 'bench-db';
const ROW_BYTES = 300; // 256 characters of payload plus a bigint and the tuple header, roughly
const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function main() {
  // Everything it starts (the addon's server, the router) stops with it, whatever happens here.
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_STOP_ON_EXIT: 'all' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-backup-'));
  try {
    const client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
    await client.create.addon({
      parameters: { projectId: PROJECT },
      data: { name: ADDON, type: 'postgresql', version: '15', billing: { deploymentPlan: 'nf-compute-200', storage: Math.max(4096, sizeMb * 4), replicas: 1 } },
    });
    await waitForAddonStatus(client, PROJECT, ADDON, 'running', 300_000);
    const secrets = (await client.get.addon.credentials({ parameters: { projectId: PROJECT, addonId: ADDON } })).data.secrets as Record<string, string>;
    const uri = secrets.postgresUri!;

    const db = new pg.Client({ connectionString: uri });
    await db.connect();
    const rows = Math.ceil((sizeMb * 1024 * 1024) / ROW_BYTES);
    const t0 = performance.now();
    await db.query('CREATE TABLE items (id bigint PRIMARY KEY, payload text NOT NULL)');
    for (let from = 1; from <= rows; from += 1_000_000) {
      await db.query("INSERT INTO items SELECT g, repeat(md5(g::text), 8) FROM generate_series($1::bigint, $2::bigint) g", [from, Math.min(rows, from + 999_999)]);
    }
    const bytes = Number((await db.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    const mb = bytes / 1024 / 1024;
    console.log(`generated ${rows} rows, database ${mb.toFixed(0)} MB, in ${seconds(performance.now() - t0)} s`);
    // A restore ends every connection to the live database when it swaps the restored one in.
    await db.end();

    // slipway: a dump backup, then a restore of it (into a fresh database, swapped in on success).
    let t = performance.now();
    const backup = await client.backup.addon({ parameters: { projectId: PROJECT, addonId: ADDON }, data: { name: 'bench', backupType: 'dump' } });
    const backupId = backup.data.id;
    const done = await waitFor(async () => {
      const b = (await client.get.addon.backup({ parameters: { projectId: PROJECT, addonId: ADDON, backupId } })).data;
      return b.status === 'completed' || b.status === 'failed' ? b : undefined;
    }, 3_600_000, 'the backup');
    if (done.status !== 'completed') throw new Error(`backup failed: ${JSON.stringify(done)}`);
    const slipwayDumpMs = performance.now() - t;
    t = performance.now();
    const restore = await client.restore.addon.backup({ parameters: { projectId: PROJECT, addonId: ADDON, backupId } });
    const restored = await waitFor(async () => {
      const list = (await client.get.addon.restores({ parameters: { projectId: PROJECT, addonId: ADDON } })).data.restores;
      const mine = list.find((x) => x.id === restore.data.restoreId);
      return mine && (mine.status === 'completed' || mine.status === 'failed') ? mine : undefined;
    }, 3_600_000, 'the restore');
    if (restored.status !== 'completed') throw new Error(`restore failed: ${JSON.stringify(restored)}`);
    const slipwayRestoreMs = performance.now() - t;
    await waitForAddonStatus(client, PROJECT, ADDON, 'running', 300_000);

    // The peer: the same tools by hand against the same server, the restore into a fresh database.
    const u = new URL(uri);
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
    const conn = ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username)];
    const bin = (tool: string) => `/usr/lib/postgresql/15/bin/${tool}`;
    const file = path.join(work, 'peer.dump');
    t = performance.now();
    execFileSync(bin('pg_dump'), ['-Fc', '--no-owner', ...conn, '-d', u.pathname.slice(1), '-f', file], { env });
    const peerDumpMs = performance.now() - t;
    const admin = new pg.Client({ connectionString: `${u.protocol}//${u.username}:${u.password}@${u.host}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE peer_restore');
    t = performance.now();
    execFileSync(bin('pg_restore'), ['--no-owner', '--exit-on-error', '--single-transaction', ...conn, '-d', 'peer_restore', file], { env });
    const peerRestoreMs = performance.now() - t;
    await admin.query('DROP DATABASE peer_restore');
    await admin.end();

    const rate = (ms: number) => `${(mb / (ms / 1000)).toFixed(1)} MB/s`;
    console.log(`dump     slipway ${seconds(slipwayDumpMs)} s (${rate(slipwayDumpMs)})  pg_dump -Fc ${seconds(peerDumpMs)} s (${rate(peerDumpMs)})  ratio ${(slipwayDumpMs / peerDumpMs).toFixed(2)}x`);
    console.log(`restore  slipway ${seconds(slipwayRestoreMs)} s (${rate(slipwayRestoreMs)})  pg_restore ${seconds(peerRestoreMs)} s (${rate(peerRestoreMs)})  ratio ${(slipwayRestoreMs / peerRestoreMs).toFixed(2)}x`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
