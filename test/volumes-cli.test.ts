/**
 * `slipway volumes …` as a user runs it (the real binary against a real platform): create, list, back up,
 * show, make a new volume from the backup, restore, delete, and a refusal that names the field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, startTestPlatform, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';


describe('slipway volumes', () => {
  let p: RunningPlatform;
  let home: string;


  const cli = (args: string[]) => runCli(args, { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, NO_COLOR: '1' } });
  const ok = assertCliOk;

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-vol-'));
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'cliv' })).status, 200);
  });
  after(async () => {
    await p?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('creates, backs up, copies, restores and deletes volumes', async () => {
    ok(await cli(['volumes', 'create', 'data', '-p', 'cliv', '--mount', '/data', '--size', '64', '--wait']), 'create');
    const list = await cli(['volumes', 'list', '-p', 'cliv']);
    ok(list, 'list');
    assert.match(list.stdout, /data\s+64 MB/);

    const backup = await cli(['--json', 'volumes', 'backup', 'data', 'first', '-p', 'cliv', '--wait']);
    ok(backup, 'backup');
    const backupId = (JSON.parse(backup.stdout) as { data: { id: string } }).data.id;
    const show = await cli(['volumes', 'show', 'data', '-p', 'cliv']);
    ok(show, 'show');
    assert.match(show.stdout, new RegExp(`${backupId}.*completed`));
    assert.match(show.stdout, /not attached/);

    ok(await cli(['volumes', 'create', 'copy', '-p', 'cliv', '--mount', '/d', '--from-backup', backupId, '--wait']), 'create from backup');
    ok(await cli(['volumes', 'restore', 'data', backupId, '-p', 'cliv', '--wait']), 'restore');
    ok(await cli(['volumes', 'delete', 'copy', '-p', 'cliv']), 'delete');
    const after = await cli(['--json', 'volumes', 'list', '-p', 'cliv']);
    assert.deepEqual((JSON.parse(after.stdout) as { data: { id: string }[] }).data.map((v) => v.id), ['data']);
  });

  it('says which field a refused volume broke', async () => {
    const bad = await cli(['volumes', 'create', 'bad', '-p', 'cliv', '--mount', 'relative']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /mounts\.0\.containerMountPath/);
  });
});
