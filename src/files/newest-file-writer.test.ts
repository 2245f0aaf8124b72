import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NewestFileWriter } from './newest-file-writer.ts';

describe('NewestFileWriter', () => {
  it('ends with the newest text, writes each text whole, and skips those overtaken while a write runs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-newest-'));
    const file = path.join(dir, 'state.json');
    const errors: Error[] = [];
    const w = new NewestFileWriter(file, { mode: 0o600, onError: (e) => errors.push(e) });
    const seen = new Set<string>();
    const watcher = setInterval(() => {
      try {
        seen.add(fs.readFileSync(file, 'utf8'));
      } catch {}
    }, 0);
    for (let i = 0; i < 200; i++) w.write(JSON.stringify({ n: i, pad: 'x'.repeat(20_000) }));
    await w.flush();
    clearInterval(watcher);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).n, 199);
    for (const text of seen) assert.doesNotThrow(() => JSON.parse(text), 'a reader never sees a partial text');
    assert.ok([...seen].every((t) => JSON.parse(t).n === 0 || JSON.parse(t).n === 199), 'only the first and the newest were written');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['state.json'], 'no temporary file is left');
    assert.deepEqual(errors, []);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makes a text handed over as a function only when it is the one written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-newest-'));
    const file = path.join(dir, 'model.json');
    const w = new NewestFileWriter(file, { onError: (e) => assert.fail(e) });
    const made: number[] = [];
    for (let i = 0; i < 50; i++) w.write(() => (made.push(i), String(i)));
    await w.flush();
    assert.deepEqual(made, [0, 49]);
    assert.equal(fs.readFileSync(file, 'utf8'), '49');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('with a share of the loop, waits after a costly text in proportion to its cost', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-newest-'));
    const file = path.join(dir, 'model.json');
    const w = new NewestFileWriter(file, { onError: (e) => assert.fail(e), loopShare: 0.25 });
    const made: { n: number; at: number; took: number }[] = [];
    const costly = (n: number) => () => {
      const t0 = performance.now();
      while (performance.now() - t0 < 20);
      made.push({ n, at: performance.now(), took: performance.now() - t0 });
      return String(n);
    };
    w.write(costly(1));
    w.write(costly(2));
    w.write(costly(3));
    await w.flush();
    assert.deepEqual(made.map((m) => m.n), [1, 3], 'the overtaken text is never made');
    assert.equal(fs.readFileSync(file, 'utf8'), '3');
    // The second text is made no sooner than three times the first one's cost after it (a share of 1/4).
    const waited = made[1]!.at - made[1]!.took - made[0]!.at;
    assert.ok(waited >= 3 * made[0]!.took - 2, `waited ${waited.toFixed(1)} ms after a text that took ${made[0]!.took.toFixed(1)} ms`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports a write that fails and writes the next text', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-newest-'));
    const errors: Error[] = [];
    const w = new NewestFileWriter(path.join(dir, 'gone', 'f.json'), { onError: (e) => errors.push(e) });
    w.write('a');
    await w.flush();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /ENOENT/);
    fs.mkdirSync(path.join(dir, 'gone'));
    w.write('b');
    await w.flush();
    assert.equal(fs.readFileSync(path.join(dir, 'gone', 'f.json'), 'utf8'), 'b');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
