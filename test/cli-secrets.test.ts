/**
 * `slipway secrets …` as a user runs it: the real binary against a real platform. Create a group restricted
 * by tag, list it with what it applies to, set and unset variables, values hidden until revealed, refused
 * input with the field the API names, and delete.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, api, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';


describe('slipway secrets', () => {
  let p: RunningPlatform;
  let home: string;


  const cli = (args: string[]) => runCli(args, { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: ADMIN_TOKEN } });
  const ok = assertCliOk;
  const proj = ['-p', 'clisec'];

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-secrets-'));
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'clisec' })).status, 200);
  });
  after(async () => {
    await p?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('creates a group restricted by tag and lists what it applies to', async () => {
    ok(await cli(['secrets', 'create', 'production', 'DATABASE_URL=postgres://db/prod', 'LOG_LEVEL=warn', '--tag', 'production', '--priority', '20', ...proj]), 'secrets create');
    const list = await cli(['secrets', 'list', ...proj]);
    ok(list, 'secrets list');
    assert.match(list.stdout, /production\s+secret\s+environment\s+20\s+tag production/);
  });

  it('hides values until revealed, and sets and unsets variables', async () => {
    const hidden = await cli(['secrets', 'get', 'production', ...proj]);
    ok(hidden, 'secrets get');
    assert.match(hidden.stdout, /DATABASE_URL/);
    assert.ok(!hidden.stdout.includes('postgres://db/prod'), hidden.stdout);
    ok(await cli(['secrets', 'set', 'production', 'LOG_LEVEL=info', 'FEATURE=on', ...proj]), 'secrets set');
    ok(await cli(['secrets', 'unset', 'production', 'DATABASE_URL', ...proj]), 'secrets unset');
    const shown = JSON.parse((await cli(['secrets', 'get', 'production', '--reveal', '--json', ...proj])).stdout);
    assert.deepEqual(shown.data.secrets.variables, { LOG_LEVEL: 'info', FEATURE: 'on' });
  });

  it("links an addon's credentials into a group under their default names and aliases, refuses an unknown key by field, and unlinks", async () => {
    const created = await api(p, 'POST', '/v1/projects/clisec/addons', { name: 'cache', type: 'redis', version: '7', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/clisec/addons/cache')).body.data.status === 'running', 180_000, 'the redis addon to run');
    const bad = await cli(['secrets', 'link', 'production', 'cache', 'NOPE', ...proj]);
    assert.equal(bad.code, 1, bad.output);
    assert.match(bad.stderr, /keys\.0\.keyName/);
    const linked = await cli(['secrets', 'link', 'production', 'cache', 'REDIS_MASTER_URL=REDIS_URL,CACHE_URL', 'HOST', ...proj]);
    assertCliOk(linked, 'secrets link');
    assert.match(linked.stdout, /NF_CACHE_REDIS_MASTER_URL = REDIS_URL = CACHE_URL/);
    const link = await api(p, 'GET', '/v1/projects/clisec/secrets/production/addons/cache');
    assert.deepEqual(link.body.data.linkedKeys.map((k: { keyName: string }) => k.keyName), ['REDIS_MASTER_URL', 'HOST']);
    assertCliOk(await cli(['secrets', 'unlink', 'production', 'cache', ...proj]), 'secrets unlink');
    const after = await api(p, 'GET', '/v1/projects/clisec/secrets/production/addons/cache');
    assert.equal(after.body.data.linked, false, JSON.stringify(after.body));
    assert.equal((await api(p, 'DELETE', '/v1/projects/clisec/addons/cache')).status, 200);
  });

  it("prints the field the API refused, and deletes a group", async () => {
    const bad = await cli(['secrets', 'create', 'other', 'PORT=1', ...proj]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /secrets\.variables\.PORT/);
    const usage = await cli(['secrets', 'create', 'other', '--priority', '101', ...proj]);
    assert.equal(usage.code, 2);
    ok(await cli(['secrets', 'delete', 'production', ...proj]), 'secrets delete');
    assert.equal((await api(p, 'GET', '/v1/projects/clisec/secrets/production')).status, 404);
  });
});
