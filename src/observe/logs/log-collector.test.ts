/**
 * The log collector with the real process runtime: an instance's lines are archived once each, also across
 * a restart of the collector (cursors.json), and the file is written only when a count moved.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { writeConformanceApp } from '../../runtime/conformance.ts';
import { ProcessDriver } from '../../runtime/process/supervised-driver.ts';
import { LogArchive } from './log-archive.ts';
import { LogCollector } from './log-collector.ts';

const waitFor = async (what: string, check: () => boolean, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('log collector', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-collector-'));
  const artifactDir = path.join(root, 'app');
  fs.mkdirSync(artifactDir);
  writeConformanceApp(artifactDir);
  const driver = new ProcessDriver({ stateDir: path.join(root, 'runtime'), isolation: 'none' });
  const logDir = path.join(root, 'logs');
  const id = `p--s--web-r1-0-${process.pid.toString(16)}`;
  after(async () => {
    await driver.stop(id, 1).catch(() => {});
    await driver.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('archives each line once, across a restart of the collector, and rewrites cursors.json only when a count moved', async () => {
    const archive = new LogArchive(logDir, { maxAgeSeconds: 3600, maxBytes: 16 * 1024 * 1024 });
    const logger = pino({ level: 'silent' });
    // Five numbered lines, then one more each time the file `more` appears (the test writes it).
    const more = path.join(root, 'more');
    const script = `for i in 1 2 3 4 5; do echo "line $i"; done; n=6; while :; do if [ -e ${more} ]; then rm -f ${more}; echo "line $n"; n=$((n+1)); fi; sleep 0.05; done`;
    await driver.start({ id, labels: { project: 'p', service: 's', release: 'r1', processType: 'web' }, artifactDir, command: ['/bin/sh', '-c', script], env: {}, files: [], ports: [] });
    const lines = () => archive.search('p', 's', {}).map((e) => e.line);

    const first = new LogCollector(driver, archive, { dir: logDir, logger });
    first.start();
    await waitFor('five lines archived', () => (archive.flush(), lines().length >= 5));
    await first.stop();
    const cursors = path.join(logDir, 'cursors.json');
    assert.deepEqual(JSON.parse(fs.readFileSync(cursors, 'utf8')), { [id]: 5 });

    // Two lines while no collector runs, then a new collector over the same directory.
    for (const _ of [1, 2]) {
      fs.writeFileSync(more, '');
      await waitFor('the app took the file', () => !fs.existsSync(more));
    }
    const second = new LogCollector(driver, archive, { dir: logDir, logger });
    second.start();
    await waitFor('seven lines archived', () => (archive.flush(), lines().length >= 7));
    // Nothing moves: the file is not written again.
    await new Promise((r) => setTimeout(r, 400));
    const mtime = fs.statSync(cursors).mtimeMs;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(fs.statSync(cursors).mtimeMs, mtime, 'cursors.json left alone while no count moved');
    fs.writeFileSync(more, '');
    await waitFor('eight lines archived', () => (archive.flush(), lines().length >= 8));
    await waitFor('cursors.json updated', () => JSON.parse(fs.readFileSync(cursors, 'utf8'))[id] === 8);
    await second.stop();
    assert.deepEqual(lines(), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `line ${n}`), 'every line once, in order');
  });
});
