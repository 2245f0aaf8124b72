import { describe, it, mock } from 'node:test';
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

  it('with a minimum interval, writes the first text at once and the newest of those that follow once the interval is over, or at once on flush', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-newest-'));
    const file = path.join(dir, 'model.json');
    const w = new NewestFileWriter(file, { minIntervalMs: 300, onError: (e) => assert.fail(e) });
    const made: number[] = [];
    w.write(() => (made.push(0), '0'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.readFileSync(file, 'utf8'), '0');
    for (let i = 1; i <= 5; i++) w.write(() => (made.push(i), String(i)));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.readFileSync(file, 'utf8'), '0', 'the interval is not over: nothing newer is written yet');
    let written = false;
    while (!written) {
      await new Promise((r) => setTimeout(r, 20));
      written = fs.readFileSync(file, 'utf8') === '5';
    }
    assert.deepEqual(made, [0, 5], 'only the newest of the waiting texts is made');
    // The interval's timer never fires now: only flush can end the wait.
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      w.write(() => (made.push(6), '6'));
      await w.flush();
    } finally {
      mock.timers.reset();
    }
    assert.equal(fs.readFileSync(file, 'utf8'), '6', 'flush writes the newest without waiting for the interval');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
