import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VolumeStorage } from './volume-storage.ts';

describe('volume storage', () => {
  it('backs up, restores over changed data, and repeats each step safely', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-vs-'));
    try {
      const s = new VolumeStorage(dir);
      s.ensure('vol-a');
      fs.writeFileSync(path.join(s.dataPath('vol-a'), 'v.txt'), 'one');
      assert.equal(await s.snapshot('vol-a', 'backup-1'), 3);
      assert.equal(await s.snapshot('vol-a', 'backup-1'), 3, 'a repeated snapshot replaces the first');
      fs.writeFileSync(path.join(s.dataPath('vol-a'), 'v.txt'), 'two');
      fs.writeFileSync(path.join(s.dataPath('vol-a'), 'extra.txt'), 'x');
      await s.restore('vol-a', 'backup-1');
      await s.restore('vol-a', 'backup-1');
      assert.deepEqual(fs.readdirSync(s.dataPath('vol-a')), ['v.txt']);
      assert.equal(fs.readFileSync(path.join(s.dataPath('vol-a'), 'v.txt'), 'utf8'), 'one');
      await s.restore('vol-b', 'backup-1');
      assert.equal(fs.readFileSync(path.join(s.dataPath('vol-b'), 'v.txt'), 'utf8'), 'one', 'a new volume from a backup');
      await assert.rejects(s.restore('vol-a', 'backup-missing'), /missing/);
      assert.deepEqual(await s.sweep(new Set(['vol-a']), new Set()), [], 'nothing recent is swept');
      const removed = await s.sweep(new Set(['vol-a']), new Set(), 0);
      assert.deepEqual(removed.sort(), ['volume-backups/backup-1', 'volumes/vol-b']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a mount through a symbolic link the app left in its volume', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-vs-'));
    try {
      const s = new VolumeStorage(dir);
      s.ensure('vol-a');
      fs.symlinkSync('/', path.join(s.dataPath('vol-a'), 'escape'));
      assert.throws(() => s.mountPath('vol-a', 'escape'), /symbolic link/);
      assert.throws(() => s.mountPath('vol-a', 'escape/etc'), /symbolic link/);
      assert.equal(s.mountPath('vol-a', 'a/b'), path.join(s.dataPath('vol-a'), 'a', 'b'));
      assert.throws(() => s.mountPath('vol-a', '../x'), /leaves/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
