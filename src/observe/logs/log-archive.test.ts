import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogArchive } from './log-archive.ts';
import type { LogEntry } from './log-query.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-archive-'));
const entry = (line: string, ts = new Date().toISOString(), instance = 'i-0'): LogEntry => ({ ts, project: 'p', service: 's', instance, stream: 'stdout', line });

describe('log archive', () => {
  it('finds archived lines by text and range, the newest `limit` of them', () => {
    const a = new LogArchive(tmp(), { maxAgeSeconds: 3600, maxBytes: 1024 * 1024 });
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 10; i++) a.append(entry(`line ${i}`, new Date(t0 + i * 1000).toISOString(), `i-${i % 2}`));
    assert.equal(a.search('p', 's', {}).length, 10);
    assert.deepEqual(a.search('p', 's', { search: 'LINE 3' }).map((e) => e.line), ['line 3']);
    assert.deepEqual(a.search('p', 's', { sinceMs: t0 + 8000 }).map((e) => e.line), ['line 8', 'line 9']);
    assert.deepEqual(a.search('p', 's', { untilMs: t0 + 1000 }).map((e) => e.line), ['line 0', 'line 1']);
    assert.deepEqual(a.search('p', 's', { instance: 'i-1' }, 2).map((e) => e.line), ['line 7', 'line 9']);
  });

  it('keeps a service under its size limit by dropping the oldest segments', () => {
    const a = new LogArchive(tmp(), { maxAgeSeconds: 3600, maxBytes: 16 * 1024 });
    for (let i = 0; i < 2000; i++) a.append(entry(`line ${i} ${'x'.repeat(40)}`));
    assert.ok(a.sizeOf('p', 's') > 16 * 1024);
    const { removedFiles } = a.enforceRetention();
    assert.ok(removedFiles > 0);
    assert.ok(a.sizeOf('p', 's') <= 16 * 1024, `${a.sizeOf('p', 's')} bytes kept`);
    const kept = a.search('p', 's', {});
    assert.equal(kept.at(-1)!.line.split(' ')[1], '1999');
  });

  it('drops segments older than the age limit and never serves older lines', () => {
    const dir = tmp();
    const a = new LogArchive(dir, { maxAgeSeconds: 3600, maxBytes: 1024 * 1024 });
    const oldMs = Date.now() - 3 * 3600_000;
    fs.mkdirSync(path.join(dir, 'p', 's'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'p', 's', `${oldMs}.jsonl`), `${JSON.stringify({ ts: new Date(oldMs).toISOString(), instance: 'i-0', stream: 'stdout', line: 'ancient' })}\n`);
    fs.utimesSync(path.join(dir, 'p', 's', `${oldMs}.jsonl`), new Date(oldMs), new Date(oldMs));
    a.append(entry('recent'));
    assert.deepEqual(a.search('p', 's', {}).map((e) => e.line), ['recent']);
    assert.equal(a.enforceRetention().removedFiles, 1);
    assert.ok(!fs.existsSync(path.join(dir, 'p', 's', `${oldMs}.jsonl`)));
    assert.deepEqual(a.search('p', 's', {}).map((e) => e.line), ['recent']);
  });
});
