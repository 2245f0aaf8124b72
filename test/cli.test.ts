/**
 * The `slipway` CLI as a user runs it: the real binary (`node bin/slipway.mjs`) against a real platform,
 * with its config file in a temporary directory. Login, projects and services, a deploy from a directory
 * followed to the end, instances, scaling, logs, env changes as releases, rollback, and a deploy whose
 * health check never passes, which must fail with the reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { ADMIN_TOKEN, ROOT, api, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { packDirectory } from '../src/cli/source-bundle.ts';
import { assertCliOk, runCli } from './support/cli.ts';


const HELLO = path.join(ROOT, 'test/fixtures/apps/hello');

describe('slipway CLI', () => {
  let p: RunningPlatform;
  let home: string;
  const cfg = () => path.join(home, 'config', 'slipway.json');


  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { home, env: { SLIPWAY_CONFIG: cfg(), ...env } });
  const ok = assertCliOk;
  const svc = ['-p', 'shop', '-s', 'web'];
  const message = async () => {
    const r = await viaRouter(p, 'web.shop.localhost');
    return r.status === 200 ? ((await r.json()) as { message: string }).message : `HTTP ${r.status}`;
  };

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
    p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '15' });
  });
  after(async () => {
    await p?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('logs in, keeps the context in a 0600 file, and lists it as current without its token', async () => {
    ok(await cli(['login', '--host', p.apiUrl, '--token', ADMIN_TOKEN, '--name', 'test', '--router-port', String(p.routerPort)]), 'login');
    assert.equal(fs.statSync(cfg()).mode & 0o777, 0o600);
    const list = await cli(['context', 'list', '--json']);
    ok(list, 'context list');
    const body = JSON.parse(list.stdout);
    assert.equal(body.current, 'test');
    assert.equal(body.contexts[0].host, p.apiUrl);
    assert.equal(body.contexts[0].token, undefined);
    ok(await cli(['context', 'use', 'test']), 'context use');
  });

  it("refuses a wrong token with the API's message and a non-zero exit", async () => {
    const r = await cli(['projects', 'list', '--token', 'not-the-token-0123456789']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error: .*401/);
  });

  it('creates a project and a service, and prints every field the API refused', async () => {
    ok(await cli(['projects', 'create', 'shop']), 'projects create');
    const projects = JSON.parse((await cli(['projects', 'list', '--json'])).stdout);
    assert.ok(projects.data.projects.some((x: { id: string }) => x.id === 'shop'));
    ok(await cli(['services', 'create', 'web', '-p', 'shop', '--instances', '1', '--port', '8080']), 'services create');
    const services = JSON.parse((await cli(['services', 'list', '-p', 'shop', '--json'])).stdout);
    assert.deepEqual(services.data.services.map((x: { id: string }) => x.id), ['web']);

    const bad = await cli(['services', 'create', 'x', '-p', 'shop']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /name: .*3/, bad.stderr);
  });

  it('packs a directory without .git, node_modules and what .gitignore names', async () => {
    const dir = fs.mkdtempSync(path.join(home, 'src-'));
    fs.cpSync(HELLO, dir, { recursive: true });
    for (const d of ['.git', 'node_modules/left-pad', 'logs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.writeFileSync(path.join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
    fs.writeFileSync(path.join(dir, 'node_modules/left-pad/index.js'), '');
    fs.writeFileSync(path.join(dir, 'logs/today.log'), '');
    fs.writeFileSync(path.join(dir, 'secret.env'), 'X=1\n');
    fs.writeFileSync(path.join(dir, '.gitignore'), '# local files\n*.env\nlogs/\n');
    const bundle = await packDirectory(dir);
    const file = path.join(dir, '..', 'b.tar.gz');
    fs.writeFileSync(file, bundle.data);
    const entries: string[] = [];
    await tar.t({ file, onReadEntry: (e) => entries.push(e.path) });
    const names = entries.map((e) => e.replace(/^\.\//, '').replace(/\/$/, '')).sort();
    assert.deepEqual(names, ['.gitignore', 'Procfile', 'package.json', 'server.js']);
  });

  it('deploys a directory and follows the rollout to completion', async () => {
    const r = await cli(['deploy', HELLO, ...svc]);
    ok(r, 'deploy');
    assert.match(r.stdout, /Rollout \d+ completed/);
    assert.match(r.stdout, /web +\[#+\] 1\/1 ready/);
    assert.equal(await message(), 'hello');
  });

  it('lists instances as JSON and scales web to 2', async () => {
    const ps = JSON.parse((await cli(['ps', ...svc, '--json'])).stdout);
    assert.equal(ps.data.containers.length, 1);
    assert.equal(ps.data.containers[0].ready, true);
    ok(await cli(['scale', 'web=2', ...svc]), 'scale');
    const after2 = JSON.parse((await cli(['ps', ...svc, '--json'])).stdout);
    assert.equal(after2.data.containers.length, 2);
    assert.ok(after2.data.containers.every((c: { ready: boolean }) => c.ready));
    // Each ready instance says since when, no sooner than it started.
    for (const c of after2.data.containers as { createdAt: number; readyAt: string }[]) {
      const at = Date.parse(c.readyAt);
      assert.ok(at >= c.createdAt * 1000 && at <= Date.now(), `readyAt ${c.readyAt} between the start (${c.createdAt}) and now`);
    }
    const table = await cli(['ps', ...svc]);
    assert.match(table.stdout, /^INSTANCE +TYPE +RELEASE/);
    assert.match(table.stdout, / yes \(\d+s ago\) /);
    // eslint-disable-next-line no-control-regex -- the escape that starts a colour
    assert.doesNotMatch(table.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
  });

  it('scales through the formation all or nothing, naming what it refuses', async () => {
    const tooMany = await cli(['scale', 'web=21', ...svc]);
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /quantity/);
    const noType = await cli(['scale', 'worker=1', ...svc]);
    assert.notEqual(noType.code, 0);
    assert.match(noType.stderr, /Procfile/);
    const ps = JSON.parse((await cli(['ps', ...svc, '--json'])).stdout);
    assert.ok(ps.data.containers.length >= 1, 'nothing changed');
  });

  it("prints the app's output, each line with its instance", async () => {
    const r = await waitFor(async () => {
      const x = await cli(['logs', ...svc]);
      return /listening on \d+ as /.test(x.stdout) ? x : undefined;
    }, 30_000, 'a logged line');
    assert.match(r.stdout, /^\[shop--web--web-r\d+-\d+-[0-9a-f]+\] listening on \d+ as shop--web--/m);
  });

  it('makes a release of an env change, and rolls back to the previous one', async () => {
    const before_ = JSON.parse((await cli(['releases', ...svc, '--json'])).stdout).releases.length;
    const set = await cli(['env', 'set', 'GREETING=howdy', ...svc]);
    ok(set, 'env set');
    assert.match(set.stdout, /completed/);
    const releases = JSON.parse((await cli(['releases', ...svc, '--json'])).stdout).releases;
    assert.equal(releases.length, before_ + 1);
    assert.equal(await message(), 'howdy');
    const env = JSON.parse((await cli(['env', 'list', ...svc, '--json'])).stdout);
    assert.equal(env.runtimeEnvironment.GREETING, 'howdy');

    const rb = await cli(['rollback', ...svc]);
    ok(rb, 'rollback');
    assert.match(rb.stdout, new RegExp(`release ${releases[1].number} is live`));
    await waitFor(async () => (await message()) === 'hello', 30_000, 'the first release answering again');
    const status = JSON.parse((await cli(['status', ...svc, '--json'])).stdout);
    assert.equal(status.data.release.number, releases[1].number);
  });

  it('runs a one-off command against the release with env overrides, exiting with its code', async () => {
    const ok1 = await cli(['run', 'echo "one-off $ONE"', '-e', 'ONE=override', ...svc]);
    ok(ok1, 'run');
    assert.match(ok1.stdout, /^one-off override$/m);
    const failing = await cli(['run', 'echo boom >&2; exit 4', ...svc]);
    assert.equal(failing.code, 4, failing.stderr);
    assert.match(failing.stderr, /boom/);
  });

  it('deploys an earlier build by id, which turns continuous deployment off', async () => {
    const builds = (await api(p, 'GET', '/v1/projects/shop/services/web/build')).body.data.builds as { id: string; status: string }[];
    const first = builds.filter((b) => b.status === 'SUCCESS').at(-1)!;
    const r = await cli(['deploy', '--build', first.id, ...svc]);
    ok(r, 'deploy --build');
    assert.match(r.stdout, /continuous deployment is now off/);
    assert.deepEqual((await api(p, 'GET', '/projects/shop/services/web/cd')).body, { enabled: false, buildId: first.id });
  });

  it("prints the service's URL through the router", async () => {
    const r = await cli(['open', ...svc]);
    ok(r, 'open');
    assert.equal(r.stdout.trim(), `http://web.shop.localhost:${p.routerPort}`);
  });

  it('stops at a failing build, prints the tail of its log, and leaves the service as it was', async () => {
    const before_ = await message();
    const dir = fs.mkdtempSync(path.join(home, 'badbuild-'));
    fs.cpSync(HELLO, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', scripts: { build: 'echo compile error >&2; exit 2', start: 'node server.js' } }));
    const r = await cli(['deploy', dir, ...svc]);
    assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, /Build build-\S+ failed: .*exit code 2/);
    assert.match(r.stderr, /compile error/);
    assert.equal(await message(), before_);
  });

  it('fails a deploy whose health check never passes, with the reason, and the service keeps answering', async () => {
    const patched = await api(p, 'PATCH', '/v1/projects/shop/services/combined/web', {
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 }],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/shop/services/web')).body.data.status.deployment.status === 'COMPLETED', 60_000, 'probe release COMPLETED');
    const answering = await message();

    const dir = fs.mkdtempSync(path.join(home, 'broken-'));
    fs.cpSync(HELLO, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Procfile'), 'web: HEALTH_STATUS=500 GREETING=broken node server.js\n');
    const r = await cli(['deploy', dir, ...svc]);
    assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, /Rollout \d+ failed: .*did not become ready.*HTTP 500 on \/health/);
    assert.match(r.stderr, /returning to release \d+/);
    // The platform returned the spec too: the good release's build is pinned again, and the CLI says so.
    assert.match(r.stderr, /its spec is back to that release's: build \S+/);
    assert.equal(await message(), answering);
  });

  it('prints a bash completion script', async () => {
    const r = await cli(['completion', 'bash']);
    ok(r, 'completion');
    assert.match(r.stdout, /complete -F _slipway slipway/);
    assert.match(r.stdout, /'env'\) echo '[^']*\bset\b/);
    const file = path.join(home, 'completion.bash');
    fs.writeFileSync(file, r.stdout);
    const check = spawn('bash', ['-n', file]);
    assert.equal(await new Promise((res) => check.on('close', res)), 0);
  });
});
