import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonFiles } from './json-files.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until a file's change time is further back than the racy window (50 ms), so a read of it is kept. */
async function aged(file: string): Promise<void> {
  while (Date.now() - fs.statSync(file).ctimeMs <= 60) await sleep(10);
}

/** Written as the supervisor writes state.json and exit.json: a new file renamed over the old one. */
function writeByRename(file: string, value: unknown): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(value));
  fs.renameSync(`${file}.tmp`, file);
}

describe('JsonFiles', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'json-files-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps a file it has read while the file is unchanged, and shares it frozen', async () => {
    const files = new JsonFiles();
    const f = path.join(dir, 'meta.json');
    fs.writeFileSync(f, JSON.stringify({ labels: { project: 'p' }, ports: [{ port: 1 }] }));
    await aged(f);
    const a = files.read<{ labels: { project: string }; ports: { port: number }[] }>(f)!;
    const b = files.read<typeof a>(f)!;
    assert.deepEqual(a, { labels: { project: 'p' }, ports: [{ port: 1 }] });
    assert.equal(b, a, 'the second read is the kept value');
    assert.throws(() => {
      (a.labels as { project: string }).project = 'q';
    }, TypeError);
    assert.throws(() => {
      a.ports.push({ port: 2 });
    }, TypeError);
    assert.throws(() => {
      (a as { extra?: number }).extra = 1;
    }, TypeError);
  });

  it('reads a file again once it is replaced, rewritten, or gone', async () => {
    const files = new JsonFiles();
    const f = path.join(dir, 'state.json');
    writeByRename(f, { appPid: 100 });
    await aged(f);
    assert.deepEqual(files.read(f), { appPid: 100 });
    // Same size, a new inode: the identity differs (read once the new file is past the racy window too).
    writeByRename(f, { appPid: 200 });
    await aged(f);
    assert.deepEqual(files.read(f), { appPid: 200 });
    // Rewritten in place with another size.
    fs.writeFileSync(f, JSON.stringify({ appPid: 3000 }));
    await aged(f);
    assert.deepEqual(files.read(f), { appPid: 3000 });
    fs.rmSync(f);
    assert.equal(files.read(f), undefined);
    assert.equal(files.read(path.join(dir, 'never.json')), undefined);
  });

  it('reads a file again while its change time is within the racy window, even when its identity is the same', () => {
    // A coarse file-system clock can give a write within the same tick as the read before it the same change
    // time, inode and size; the stat is made to say exactly that.
    const f = path.join(dir, 'launch.json');
    const id = { ino: 7, size: 7, ctimeMs: Date.now() };
    const files = new JsonFiles(() => ({ ...id }));
    fs.writeFileSync(f, JSON.stringify({ n: 1 }));
    assert.deepEqual(files.read(f), { n: 1 });
    fs.writeFileSync(f, JSON.stringify({ n: 2 }));
    assert.deepEqual(files.read(f), { n: 2 }, 'changed within the racy window: read again');
    // Past the window the same identity means the same file: it is kept (the file on disk is not read).
    id.ctimeMs = Date.now() - 1000;
    assert.deepEqual(files.read(f), { n: 2 });
    fs.writeFileSync(f, JSON.stringify({ n: 3 }));
    assert.deepEqual(files.read(f), { n: 2 }, 'kept while the stat says the same old file');
    for (const change of [{ ino: 8 }, { size: 8 }, { ctimeMs: Date.now() - 500 }]) {
      Object.assign(id, change);
      fs.writeFileSync(f, JSON.stringify(change));
      assert.deepEqual(files.read(f), change, `read again when ${Object.keys(change)[0]} differs`);
    }
  });

  it('reads a file that is not whole JSON as absent, and keeps nothing of it', async () => {
    const files = new JsonFiles();
    const f = path.join(dir, 'half.json');
    fs.writeFileSync(f, '{"appPid":');
    await aged(f);
    assert.equal(files.read(f), undefined);
    fs.writeFileSync(f, '{"appPid":1}');
    assert.deepEqual(files.read(f), { appPid: 1 });
  });

  it('forgets the files of a directory removed, and of directories no longer listed', async () => {
    const files = new JsonFiles();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    for (const d of [a, b]) {
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'meta.json'), JSON.stringify({ d }));
    }
    await aged(path.join(b, 'meta.json'));
    const keptA = files.read(path.join(a, 'meta.json'));
    const keptB = files.read(path.join(b, 'meta.json'));
    files.forgetDir(a);
    assert.notEqual(files.read(path.join(a, 'meta.json')), keptA, 'read again after forgetDir');
    files.retainDirs(new Set([a]));
    assert.notEqual(files.read(path.join(b, 'meta.json')), keptB, 'read again after retainDirs without it');
    assert.deepEqual(files.read(path.join(b, 'meta.json')), { d: b });
  });
});
