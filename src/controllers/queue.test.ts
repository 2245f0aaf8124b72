import { it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './queue.ts';

const logger = { error() {} };
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond());
};

it('never runs one key in two workers at once, and reruns a key added mid-pass', async () => {
  let concurrent = 0;
  let maxConcurrent = 0;
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue('t', async () => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    runs++;
    if (runs === 1) await gate;
    concurrent--;
  }, { concurrency: 4, logger });
  q.add('a');
  q.add('a');
  await until(() => runs === 1);
  q.add('a');
  q.add('a');
  release();
  await until(() => runs === 2);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(runs, 2);
  assert.equal(maxConcurrent, 1);
  await q.stop();
});

it('retries a failing pass with back-off until it succeeds', async () => {
  let calls = 0;
  const q = new WorkQueue('t', async () => {
    calls++;
    if (calls < 3) throw new Error('boom');
  }, { concurrency: 1, logger, maxBackoffMs: 50 });
  q.add('k');
  await until(() => calls === 3);
  await q.stop();
});

it('runs different keys in parallel up to the concurrency', async () => {
  let concurrent = 0;
  let maxConcurrent = 0;
  const q = new WorkQueue('t', async () => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await new Promise((r) => setTimeout(r, 30));
    concurrent--;
  }, { concurrency: 2, logger });
  for (const k of ['a', 'b', 'c', 'd']) q.add(k);
  await until(() => maxConcurrent === 2 && concurrent === 0);
  await q.stop();
});

it('runs delayed keys when due, each once, a sooner delayed add winning over a later one', async () => {
  const runs: string[] = [];
  const q = new WorkQueue('t', async (k) => void runs.push(k), { concurrency: 2, logger });
  q.addAfter('late', 60_000);
  q.addAfter('late', 30);
  for (let i = 0; i < 200; i++) q.addAfter(`k${i}`, 10 + (i % 20));
  q.addAfter('k0', 5_000); // a later add for a key already due sooner changes nothing
  // `until` gives up long before the 60 s add could fire: "late" ran from its sooner add.
  await until(() => runs.length === 201);
  assert.equal(new Set(runs).size, 201);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(runs.length, 201);
  await q.stop();
});

it('takes keys with work before a resync\'s background keys, and still gets through the background', async () => {
  const runs: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue('t', async (k) => {
    runs.push(k);
    if (k === 'first') await gate;
  }, { concurrency: 1, logger });
  q.add('first');
  for (let i = 0; i < 20; i++) q.addBackground(`idle${i}`);
  q.add('urgent');
  q.addBackground('urgent'); // already waiting: stays urgent
  q.add('idle5'); // a background key with work to do becomes urgent
  release();
  await until(() => runs.length === 22);
  assert.deepEqual(runs.slice(0, 3), ['first', 'urgent', 'idle5']);
  assert.equal(new Set(runs).size, 22);
  await q.stop();
});

it('runs at most backgroundConcurrency background passes at once, leaving the other workers to keys with work', async () => {
  let running = 0;
  let most = 0;
  const runs: string[] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue('t', async (k) => {
    runs.push(k);
    if (!k.startsWith('idle')) return;
    running++;
    most = Math.max(most, running);
    await gate;
    running--;
  }, { concurrency: 4, logger, backgroundConcurrency: 1 });
  for (let i = 0; i < 10; i++) q.addBackground(`idle${i}`);
  await until(() => runs.length === 1);
  // One background pass holds a worker; keys with work still run on the others at once.
  q.add('urgent1');
  q.add('urgent2');
  await until(() => runs.includes('urgent1') && runs.includes('urgent2'));
  assert.deepEqual(runs.filter((k) => k.startsWith('idle')), ['idle0']);
  // Let every pass through: the background keys all run, one at a time.
  release();
  gate = Promise.resolve();
  await until(() => runs.length === 12);
  assert.equal(most, 1);
  assert.equal(new Set(runs).size, 12);
  await q.stop();
});

it('tells each pass its lane: asked for (add, a delay) or a resync (addBackground)', async () => {
  const seen: string[] = [];
  const q = new WorkQueue('t', async (key, lane) => {
    seen.push(`${key}:${lane}`);
    return key === 'later' && !seen.includes('later:again') ? (seen.push('later:again'), { againInMs: 5 }) : undefined;
  }, { concurrency: 1, logger });
  q.addBackground('idle');
  q.add('event');
  q.add('later');
  await until(() => seen.filter((s) => s.startsWith('later:now')).length === 2 && seen.includes('idle:background'));
  assert.deepEqual(seen.filter((s) => s !== 'later:again').sort(), ['event:now', 'idle:background', 'later:now', 'later:now']);
  q.stop();
});

it('lets the event loop in between passes that never wait on I/O', async () => {
  const done: string[] = [];
  // Passes that resolve at once, as a pass on SQLite may: without a turn of the loop between them, a hundred
  // would all run before anything else the loop has to do (an API request).
  const q = new WorkQueue('t', async (k) => void done.push(k), { concurrency: 2, logger });
  for (let i = 0; i < 100; i++) q.add(`k${i}`);
  const seen = await new Promise<number>((r) => setImmediate(() => r(done.length)));
  assert.ok(seen <= 2, `${seen} passes ran before the loop's next callback`);
  await until(() => done.length === 100);
  await q.stop();
});
