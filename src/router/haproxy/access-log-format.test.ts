import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCESS_LOG_MARK, scanLines, type RequestSample } from './access-log-format.ts';
import { chunkLines } from './runtime-api.ts';

const line = (route: string, endpoint: string, status: string, ms: string) =>
  `${ACCESS_LOG_MARK}1796553770478,"pid":7,"component":"access","route":"${route}","endpoint":"${endpoint}","status":${status},"durationMs":${ms},"ts":"2026-12-06T10:42:50.478Z","client":"127.0.0.1","method":"GET","host":"a.test","path":"\\/x?route=\\"y\\"","bytes":104,"requestId":"r","msg":"access"}\n`;

test('picks route, endpoint, status and time out of whole lines, skipping requests with no route or instance', () => {
  const text = line('p/s/web', 'p-s-r3-0-ab12', '200', '4') + line('', '', '404', '0') + line('p/s/web', '', '503', '1') + line('p/s/web', 'p-s-r4-1-cd34', '-1', '-1');
  const seen: RequestSample[] = [];
  assert.equal(scanLines(text, (route, endpoint, status, durationMs) => seen.push({ route, endpoint, status, durationMs })), text, 'every line is an access-log line: the text is kept as it is');
  assert.deepEqual(seen, [
    { route: 'p/s/web', endpoint: 'p-s-r3-0-ab12', status: 200, durationMs: 4 },
    // HAProxy's -1 (no status, a time not measured) reads as 0.
    { route: 'p/s/web', endpoint: 'p-s-r4-1-cd34', status: 0, durationMs: 0 },
  ]);
});

test('leaves out the lines of the ring that are not access-log lines', () => {
  const a = line('p/s/web', 'e-r1-0-aa', '200', '1');
  const b = line('p/s/web', 'e-r1-1-bb', '500', '2');
  const seen: RequestSample[] = [];
  assert.equal(scanLines(`Proxy slipway stopped (cumulated conns: FE: 65, BE: 0).\n${a}Proxy x stopped.\n${b}`, (route, endpoint, status, durationMs) => seen.push({ route, endpoint, status, durationMs })), a + b);
  assert.deepEqual(seen.map((s) => s.status), [200, 500]);
});

test('hands on whole lines only, keeping a line cut by a read for the next one', () => {
  const got: string[] = [];
  const feed = chunkLines((b) => got.push(b.toString()));
  feed(Buffer.from('one\ntw'));
  feed(Buffer.from('o\nthr'));
  feed(Buffer.from('ee'));
  feed(Buffer.from('\n'));
  assert.deepEqual(got, ['one\n', 'two\n', 'three\n']);
});

test('keeps a cut line whole when every read comes in the same buffer, overwritten by the next read', () => {
  const got: string[] = [];
  const feed = chunkLines((b) => got.push(b.toString()));
  const buffer = Buffer.alloc(16);
  const read = (s: string) => feed(buffer.subarray(0, buffer.write(s)));
  read('thr');
  read('ee\none\ntw');
  read('o');
  read('\nfour\n');
  assert.deepEqual(got, ['three\none\n', 'two\nfour\n']);
});
