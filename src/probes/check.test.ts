import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { checkHttp, checkTcp } from './check.ts';

let fast: http.Server;
let silent: http.Server;
const port = (s: net.Server) => (s.address() as net.AddressInfo).port;

before(async () => {
  fast = http.createServer((_req, res) => res.end('ok'));
  // Accepts and reads the request, and never answers.
  silent = http.createServer(() => {});
  await Promise.all([fast, silent].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
});

after(async () => {
  for (const s of [fast, silent]) s.closeAllConnections();
  await Promise.all([fast, silent].map((s) => new Promise((r) => s.close(r))));
});

/** Keeps this process's event loop busy, as a control plane at work or a machine out of CPU does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('an instance that does not answer in time fails its probe, and says so', async () => {
  const r = await checkHttp('127.0.0.1', port(silent), '/health', 100);
  assert.deepEqual(r, { ok: false, error: 'HTTP /health timed out after 100 ms' });
});

test('a stall of the probing process is not held against the instance', async () => {
  // The attempt starts, then this process stops looking for longer than the timeout: the answer is there
  // (or the connection made) by the time it looks again.
  const http_ = checkHttp('127.0.0.1', port(fast), '/', 50);
  const tcp = checkTcp('127.0.0.1', port(fast), 50);
  await new Promise((r) => setImmediate(r));
  stall(300);
  assert.deepEqual(await http_, { ok: true });
  assert.deepEqual(await tcp, { ok: true });
});

test('stalls forgive only so much: an instance that never answers still fails while the process stalls again and again', async () => {
  const pending = checkHttp('127.0.0.1', port(silent), '/', 50);
  const stalls = setInterval(() => stall(80), 10);
  const r = await pending;
  clearInterval(stalls);
  assert.equal(r.ok, false);
  assert.match(r.error!, /timed out/);
});
