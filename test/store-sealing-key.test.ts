/**
 * The store remembers which key sealed its secrets (by fingerprint) and refuses a control plane with another
 * one, on each supported database: what keeps a replica with the wrong SLIPWAY_SECRET_KEY from answering 500
 * for every sealed row (docs/high-availability.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPgDatabase } from './support/databases.ts';
import { openStore } from '../src/store/store.ts';
import { SecretBox } from '../src/store/secret-box.ts';
import { SealingKeyMismatchError } from '../src/store/cluster-meta-repo.ts';
import { loadConfig, ConfigError } from '../src/config/config.ts';

for (const dbId of ['sqlite', 'postgres'] as const) {
  describe(`the sealing key check (${dbId})`, () => {
    it('opens with the key that sealed the database and refuses another one', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sealing-'));
      const pg = dbId === 'postgres' ? await createPgDatabase() : undefined;
      const where = pg ? { url: pg.url } : { sqlitePath: path.join(dir, 'slipway.db') };
      try {
        const key = crypto.randomBytes(32);
        const first = await openStore({ ...where, box: SecretBox.fromKey(key) });
        await first.close();
        const again = await openStore({ ...where, box: SecretBox.fromKey(Buffer.from(key)) });
        await again.close();
        await assert.rejects(openStore({ ...where, box: SecretBox.fromKey(crypto.randomBytes(32)), keySource: 'SLIPWAY_SECRET_KEY' }), (err: Error) => {
          assert.ok(err instanceof SealingKeyMismatchError);
          assert.match(err.message, /sealed with another key .*from SLIPWAY_SECRET_KEY.*set SLIPWAY_SECRET_KEY to the same value/);
          return true;
        });
      } finally {
        await pg?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('settings of control-plane replicas', () => {
  it('SLIPWAY_SECRET_KEY takes 32 bytes as base64 or hex, and names the rule otherwise', () => {
    const key = crypto.randomBytes(32);
    assert.deepEqual(loadConfig({ SLIPWAY_SECRET_KEY: key.toString('base64') }).secretKey, key);
    assert.deepEqual(loadConfig({ SLIPWAY_SECRET_KEY: key.toString('hex') }).secretKey, key);
    assert.equal(loadConfig({}).secretKey, undefined);
    for (const bad of ['short', crypto.randomBytes(16).toString('base64'), crypto.randomBytes(33).toString('hex')]) {
      assert.throws(() => loadConfig({ SLIPWAY_SECRET_KEY: bad }), (err: Error) => err instanceof ConfigError && /SLIPWAY_SECRET_KEY must be 32 bytes as base64/.test(err.message));
    }
  });

  it('SLIPWAY_CONTROLLERS takes all, none or a list of kinds, and names a wrong kind', () => {
    assert.deepEqual([...loadConfig({}).controllers], ['services', 'builds', 'jobs', 'addons', 'flows']);
    assert.deepEqual([...loadConfig({ SLIPWAY_CONTROLLERS: 'none' }).controllers], []);
    assert.deepEqual([...loadConfig({ SLIPWAY_CONTROLLERS: 'builds, services' }).controllers], ['builds', 'services']);
    assert.throws(() => loadConfig({ SLIPWAY_CONTROLLERS: 'services,routers' }), /SLIPWAY_CONTROLLERS must be .* got 'routers'/);
  });
});
