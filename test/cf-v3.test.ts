/**
 * The Cloud Foundry /v3 face end to end with plain HTTP, as a CF client drives it: create a space and an
 * app, upload bits (a zip, multipart field `bits`), stage a build into a droplet, start the app, then roll
 * new droplets out with rolling and canary deployments (continue, cancel), deploy an earlier revision, and
 * check each response against the fields CF documents. Traffic goes through the router at `A.J.<domain>`
 * the whole time and no request may fail.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import yazl from 'yazl';
import { ROOT, api, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const HOST = 'web.cfspace.localhost';
const FIXTURE = path.join(ROOT, 'test/fixtures/apps/hello');

/** A zip of the hello app whose Procfile sets GREETING, so each droplet answers with its own message. */
function appZip(greeting: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const f of fs.readdirSync(FIXTURE)) if (f !== 'Procfile') zip.addFile(path.join(FIXTURE, f), f);
  zip.addBuffer(Buffer.from(`web: GREETING=${greeting} node server.js\n`), 'Procfile');
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

function hasFields(obj: Record<string, unknown>, fields: string[], what: string): void {
  for (const f of fields) assert.ok(f in obj, `${what} lacks '${f}': ${JSON.stringify(obj).slice(0, 400)}`);
}

async function messageNow(p: RunningPlatform): Promise<string | undefined> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port: p.routerPort, path: '/', headers: { host: HOST }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 ? (JSON.parse(body).message as string) : undefined));
      })
      .on('error', () => resolve(undefined));
  });
}

describe('Cloud Foundry /v3 face', { concurrency: false }, () => {
  let p: RunningPlatform;
  let space: string;
  let app: string;
  const droplets: Record<string, string> = {};

  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  it('serves the public root, one default organization, and CF errors without a token', async () => {
    const root = await api(p, 'GET', '/', undefined, { token: null });
    assert.equal(root.status, 200);
    assert.match(root.body.links.cloud_controller_v3.href, /\/v3$/);
    const v3 = await api(p, 'GET', '/v3', undefined, { token: null });
    assert.equal(v3.status, 200);
    assert.ok(v3.body.links.apps.href.endsWith('/v3/apps'));

    const anon = await api(p, 'GET', '/v3/apps', undefined, { token: null });
    assert.equal(anon.status, 401);
    assert.equal(anon.body.errors[0].title, 'CF-NotAuthenticated');
    assert.equal(anon.body.errors[0].code, 10002);

    const orgs = await api(p, 'GET', '/v3/organizations');
    assert.equal(orgs.status, 200);
    hasFields(orgs.body.pagination, ['total_results', 'total_pages', 'first', 'last', 'next', 'previous'], 'pagination');
    assert.equal(orgs.body.resources.length, 1);
    const org = orgs.body.resources[0];

    const created = await api(p, 'POST', '/v3/spaces', { name: 'cfspace', relationships: { organization: { data: { guid: org.guid } } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    hasFields(created.body, ['guid', 'created_at', 'updated_at', 'name', 'relationships', 'metadata', 'links'], 'space');
    assert.equal(created.body.relationships.organization.data.guid, org.guid);
    space = created.body.guid;
    const listed = await api(p, 'GET', '/v3/spaces?names=cfspace');
    assert.deepEqual(listed.body.resources.map((s: { guid: string }) => s.guid), [space]);
  });

  it('creates a stopped app, uploads zip bits and stages them into a droplet', async () => {
    const res = await api(p, 'POST', '/v3/apps', { name: 'web', relationships: { space: { data: { guid: space } } }, environment_variables: { FROM_CF: 'yes' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    hasFields(res.body, ['guid', 'name', 'state', 'created_at', 'updated_at', 'lifecycle', 'relationships', 'metadata', 'links'], 'app');
    assert.equal(res.body.state, 'STOPPED');
    assert.equal(res.body.lifecycle.type, 'buildpack');
    assert.equal(res.body.relationships.space.data.guid, space);
    app = res.body.guid;

    const dup = await api(p, 'POST', '/v3/apps', { name: 'web', relationships: { space: { data: { guid: space } } } });
    assert.equal(dup.status, 422);
    assert.equal(dup.body.errors[0].title, 'CF-UniquenessError');

    const env = await api(p, 'GET', `/v3/apps/${app}/environment_variables`);
    assert.deepEqual(env.body.var, { FROM_CF: 'yes' });

    const noDroplet = await api(p, 'POST', `/v3/apps/${app}/actions/start`);
    assert.equal(noDroplet.status, 422);
    assert.match(noDroplet.body.errors[0].detail, /droplet/);

    for (const greeting of ['one', 'two', 'three']) droplets[greeting] = await stage(greeting);
    const list = await api(p, 'GET', `/v3/apps/${app}/droplets`);
    assert.equal(list.body.pagination.total_results, 3);
    const d = await api(p, 'GET', `/v3/droplets/${droplets.one}`);
    assert.equal(d.status, 200);
    hasFields(d.body, ['guid', 'state', 'error', 'lifecycle', 'execution_metadata', 'process_types', 'checksum', 'buildpacks', 'stack', 'image', 'created_at', 'updated_at', 'relationships', 'metadata', 'links'], 'droplet');
    assert.equal(d.body.state, 'STAGED');
    assert.match(d.body.process_types.web, /GREETING=one/);
  });

  async function stage(greeting: string): Promise<string> {
    const pkg = await api(p, 'POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: app } } } });
    assert.equal(pkg.status, 201, JSON.stringify(pkg.body));
    hasFields(pkg.body, ['guid', 'type', 'data', 'state', 'created_at', 'updated_at', 'relationships', 'metadata', 'links'], 'package');
    assert.equal(pkg.body.state, 'AWAITING_UPLOAD');

    const early = await api(p, 'POST', '/v3/builds', { package: { guid: pkg.body.guid } });
    assert.equal(early.status, 422, 'a build needs uploaded bits');

    const form = new FormData();
    form.append('resources', '[]');
    form.append('bits', new Blob([new Uint8Array(await appZip(greeting))], { type: 'application/zip' }), 'app.zip');
    const up = await fetch(`${p.apiUrl}/v3/packages/${pkg.body.guid}/upload`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` }, body: form });
    const upBody = (await up.json()) as { state: string; data: { checksum: { value: string } } };
    assert.equal(up.status, 200, JSON.stringify(upBody));
    assert.equal(upBody.state, 'READY');
    assert.match(upBody.data.checksum.value, /^[0-9a-f]{64}$/);

    const build = await api(p, 'POST', '/v3/builds', { package: { guid: pkg.body.guid } });
    assert.equal(build.status, 201, JSON.stringify(build.body));
    hasFields(build.body, ['guid', 'created_at', 'updated_at', 'state', 'error', 'lifecycle', 'package', 'droplet', 'relationships', 'metadata', 'links'], 'build');
    assert.equal(build.body.package.guid, pkg.body.guid);
    const staged = await waitFor(async () => {
      const b = await api(p, 'GET', `/v3/builds/${build.body.guid}`);
      assert.notEqual(b.body.state, 'FAILED', JSON.stringify(b.body));
      return b.body.state === 'STAGED' ? b.body : undefined;
    }, 120_000, `build of '${greeting}' staged`);
    return staged.droplet.guid as string;
  }

  it('starts on its current droplet at A.J.<domain>, scales its web process and reports stats', async () => {
    const set = await api(p, 'PATCH', `/v3/apps/${app}/relationships/current_droplet`, { data: { guid: droplets.one } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.data.guid, droplets.one);
    const started = await api(p, 'POST', `/v3/apps/${app}/actions/start`);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.state, 'STARTED');
    await waitFor(async () => (await messageNow(p)) === 'one', 60_000, 'app answers through the router');

    const scaled = await api(p, 'POST', `/v3/apps/${app}/processes/web/actions/scale`, { instances: 3 });
    assert.equal(scaled.status, 202, JSON.stringify(scaled.body));
    hasFields(scaled.body, ['guid', 'type', 'command', 'instances', 'memory_in_mb', 'disk_in_mb', 'health_check', 'relationships', 'metadata', 'created_at', 'updated_at', 'links'], 'process');
    assert.equal(scaled.body.instances, 3);
    const stats = await waitFor(async () => {
      const s = await api(p, 'GET', `/v3/processes/${scaled.body.guid}/stats`);
      return s.body.resources.filter((r: { state: string }) => r.state === 'RUNNING').length === 3 ? s.body : undefined;
    }, 60_000, '3 running instances');
    hasFields(stats.resources[0], ['type', 'index', 'state', 'host', 'instance_ports', 'uptime', 'mem_quota', 'disk_quota', 'usage'], 'process stats');

    const hc = await api(p, 'PATCH', `/v3/processes/${scaled.body.guid}`, { health_check: { type: 'http', data: { endpoint: '/health', invocation_timeout: 2 } } });
    assert.equal(hc.status, 200, JSON.stringify(hc.body));
    assert.equal(hc.body.health_check.type, 'http');
    assert.equal(hc.body.health_check.data.endpoint, '/health');
    await waitFor(async () => {
      const s = await api(p, 'GET', `/v3/processes/${scaled.body.guid}/stats`);
      const dep = await api(p, 'GET', `/v3/deployments?app_guids=${app}&status_values=ACTIVE`);
      return dep.body.resources.length === 0 && s.body.resources.filter((r: { state: string }) => r.state === 'RUNNING').length === 3;
    }, 60_000, 'health-check change rolled out');
    // Each instance's usage is its latest sample from metrics collection (every 10 s here): a Node app holds
    // tens of MB resident, and its CPU is a fraction of a core.
    const usage = await waitFor(async () => {
      const r = (await api(p, 'GET', `/v3/processes/${scaled.body.guid}/stats`)).body.resources as { state: string; usage: { time: string; cpu: number; mem: number } }[];
      const running = r.filter((x) => x.state === 'RUNNING');
      return running.length === 3 && running.every((x) => x.usage.mem > 0) ? running.map((x) => x.usage) : undefined;
    }, 60_000, 'sampled usage of the 3 instances');
    for (const u of usage) {
      assert.ok(u.mem > 10 * 1024 * 1024 && u.mem < 1024 * 1024 * 1024, `mem ${u.mem} bytes`);
      assert.ok(u.cpu >= 0 && u.cpu < 2, `cpu ${u.cpu}`);
      assert.ok(Math.abs(Date.parse(u.time) - Date.now()) < 60_000, `time ${u.time}`);
    }
  });

  it('rolls out a droplet with max_in_flight, a canary with continue, a cancelled canary and a revision, with no failed request', async () => {
    const traffic = routerLoad(p, HOST);
    try {
      // rolling
      const rolling = await api(p, 'POST', '/v3/deployments', { droplet: { guid: droplets.two }, strategy: 'rolling', options: { max_in_flight: 2 }, relationships: { app: { data: { guid: app } } } });
      assert.equal(rolling.status, 201, JSON.stringify(rolling.body));
      const d = rolling.body;
      hasFields(d, ['guid', 'created_at', 'updated_at', 'status', 'strategy', 'options', 'droplet', 'previous_droplet', 'new_processes', 'revision', 'relationships', 'metadata', 'links'], 'deployment');
      hasFields(d.status, ['value', 'reason', 'details'], 'deployment status');
      hasFields(d.status.details, ['last_successful_healthcheck', 'last_status_change'], 'deployment status details');
      hasFields(d.links, ['self', 'app', 'cancel'], 'deployment links');
      assert.equal(d.status.value, 'ACTIVE');
      assert.equal(d.status.reason, 'DEPLOYING');
      assert.equal(d.strategy, 'rolling');
      assert.equal(d.options.max_in_flight, 2);
      assert.equal(d.droplet.guid, droplets.two);
      assert.equal(d.previous_droplet.guid, droplets.one);
      assert.equal(d.new_processes[0].type, 'web');
      assert.equal(typeof d.revision.version, 'number');
      assert.equal(d.relationships.app.data.guid, app);
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments/${d.guid}`)).body.status.reason === 'DEPLOYED', 90_000, 'rolling deployment DEPLOYED');
      const fin = await api(p, 'GET', `/v3/deployments/${d.guid}`);
      assert.equal(fin.body.status.value, 'FINALIZED');
      assert.equal(await messageNow(p), 'two');
      const current = await api(p, 'GET', `/v3/apps/${app}/droplets/current`);
      assert.equal(current.body.guid, droplets.two);

      // canary with two steps and continue
      const canary = await api(p, 'POST', '/v3/deployments', {
        droplet: { guid: droplets.three },
        strategy: 'canary',
        options: { canary: { steps: [{ instance_weight: 34 }, { instance_weight: 67 }] } },
        relationships: { app: { data: { guid: app } } },
      });
      assert.equal(canary.status, 201, JSON.stringify(canary.body));
      assert.equal(canary.body.strategy, 'canary');
      assert.deepEqual(canary.body.options.canary.steps, [{ instance_weight: 34 }, { instance_weight: 67 }]);
      const paused = await waitFor(async () => {
        const g = (await api(p, 'GET', `/v3/deployments/${canary.body.guid}`)).body;
        return g.status.reason === 'PAUSED' ? g : undefined;
      }, 90_000, 'canary paused at step 1');
      assert.equal(paused.status.value, 'ACTIVE');
      assert.equal(paused.status.canary.steps.current, 1);
      await waitFor(async () => (await messageNow(p)) === 'three', 30_000, 'the canary takes traffic');
      const cont = await api(p, 'POST', `/v3/deployments/${canary.body.guid}/actions/continue`);
      assert.equal(cont.status, 200, JSON.stringify(cont.body));
      await waitFor(async () => {
        const g = (await api(p, 'GET', `/v3/deployments/${canary.body.guid}`)).body;
        return g.status.reason === 'PAUSED' && g.status.canary.steps.current === 2;
      }, 90_000, 'canary paused at step 2');
      assert.equal((await api(p, 'POST', `/v3/deployments/${canary.body.guid}/actions/continue`)).status, 200);
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments/${canary.body.guid}`)).body.status.reason === 'DEPLOYED', 90_000, 'canary DEPLOYED');
      const notPaused = await api(p, 'POST', `/v3/deployments/${canary.body.guid}/actions/continue`);
      assert.equal(notPaused.status, 422);
      assert.equal(notPaused.body.errors[0].title, 'CF-UnprocessableEntity');

      // a canary of droplet two, cancelled: back to three
      const bad = await api(p, 'POST', '/v3/deployments', { droplet: { guid: droplets.two }, strategy: 'canary', relationships: { app: { data: { guid: app } } } });
      assert.equal(bad.status, 201, JSON.stringify(bad.body));
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments/${bad.body.guid}`)).body.status.reason === 'PAUSED', 90_000, 'default canary paused');
      const cancel = await api(p, 'POST', `/v3/deployments/${bad.body.guid}/actions/cancel`);
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
      assert.ok(['CANCELING', 'CANCELED'].includes(cancel.body.status.reason), cancel.body.status.reason);
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments/${bad.body.guid}`)).body.status.reason === 'CANCELED', 90_000, 'canary CANCELED');
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments?app_guids=${app}&status_values=ACTIVE`)).body.resources.length === 0, 90_000, 'return finished');
      assert.equal(await messageNow(p), 'three');

      // revisions: deploy the first droplet's revision again
      const revs = await api(p, 'GET', `/v3/apps/${app}/revisions`);
      assert.equal(revs.status, 200);
      const first = revs.body.resources.find((r: { droplet: { guid: string } }) => r.droplet.guid === droplets.one);
      assert.ok(first, JSON.stringify(revs.body.resources.map((r: { droplet: unknown }) => r.droplet)));
      hasFields(first, ['guid', 'version', 'droplet', 'processes', 'sidecars', 'description', 'deployable', 'relationships', 'created_at', 'updated_at', 'metadata', 'links'], 'revision');
      assert.equal(first.description, 'Initial revision.');
      const back = await api(p, 'POST', '/v3/deployments', { revision: { guid: first.guid }, relationships: { app: { data: { guid: app } } } });
      assert.equal(back.status, 201, JSON.stringify(back.body));
      assert.equal(back.body.revision.guid, first.guid);
      await waitFor(async () => (await api(p, 'GET', `/v3/deployments/${back.body.guid}`)).body.status.reason === 'DEPLOYED', 90_000, 'revision deployed');
      assert.equal(await messageNow(p), 'one');
      // Instances of the previous revision may still be draining for a moment after DEPLOYED.
      await waitFor(async () => {
        const deployed = await api(p, 'GET', `/v3/apps/${app}/revisions/deployed`);
        return JSON.stringify(deployed.body.resources.map((r: { guid: string }) => r.guid)) === JSON.stringify([first.guid]);
      }, 30_000, 'only the first revision deployed');
      const env = await api(p, 'GET', `/v3/revisions/${first.guid}/environment_variables`);
      assert.equal(env.body.var.FROM_CF, 'yes');
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.stats.failed, 0, `failed requests: ${traffic.stats.errors.slice(0, 5).join(' | ')}`);
    assert.ok(traffic.stats.ok > 50, `only ${traffic.stats.ok} requests went through`);
    for (const m of ['one', 'two', 'three']) assert.ok(traffic.stats.seen.has(m), `traffic reached droplet '${m}'`);
  });

  it('answers bad input with CF errors naming the field', async () => {
    const unknown = await api(p, 'POST', '/v3/deployments', { droplet: { guid: droplets.one }, relationships: { app: { data: { guid: app } } }, bogus: 1 });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.errors[0].title, 'CF-UnprocessableEntity');
    assert.match(unknown.body.errors[0].detail, /bogus/);
    const weights = await api(p, 'POST', '/v3/deployments', { strategy: 'canary', options: { canary: { steps: [{ instance_weight: 50 }, { instance_weight: 20 }] } }, relationships: { app: { data: { guid: app } } } });
    assert.equal(weights.status, 422);
    assert.match(weights.body.errors[0].detail, /instance_weight/);
    const range = await api(p, 'POST', '/v3/deployments', { strategy: 'canary', options: { canary: { steps: [{ instance_weight: 101 }] } }, relationships: { app: { data: { guid: app } } } });
    assert.equal(range.status, 422);
    const page = await api(p, 'GET', '/v3/apps?per_page=0');
    assert.equal(page.status, 400);
    assert.equal(page.body.errors[0].title, 'CF-BadQueryParameter');
    const missing = await api(p, 'GET', '/v3/apps/no-such-app');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errors[0].title, 'CF-ResourceNotFound');
    assert.equal(missing.body.errors[0].code, 10010);
    const malformed = await api(p, 'POST', '/v3/apps', undefined, { raw: '{"name":', contentType: 'application/json' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.errors[0].title, 'CF-MessageParseError');

    const pkg = await api(p, 'POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: app } } } });
    const form = new FormData();
    form.append('bits', new Blob([new TextEncoder().encode('not a zip at all')]), 'app.zip');
    const up = await fetch(`${p.apiUrl}/v3/packages/${pkg.body.guid}/upload`, { method: 'POST', headers: { authorization: `Bearer ${p.token}` }, body: form });
    assert.equal(up.status, 422);
    const body = (await up.json()) as { errors: { detail: string }[] };
    assert.match(body.errors[0].detail, /bits/);
    const still = await api(p, 'GET', `/v3/packages/${pkg.body.guid}`);
    assert.equal(still.body.state, 'AWAITING_UPLOAD');

    const viewer = await api(p, 'POST', '/tokens', { name: 'cf-viewer', role: 'viewer', projectId: space });
    const denied = await api(p, 'POST', `/v3/apps/${app}/actions/stop`, undefined, { token: viewer.body.token });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.errors[0].title, 'CF-NotAuthorized');
  });
});
