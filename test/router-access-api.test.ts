/**
 * Access policies end to end through the `/v1` face: a service written with basic-auth credentials is
 * guarded by the platform's router, its password is stored hashed (never in plain text in any file of the
 * data directory) and redacted on read, and a spec read and written back keeps the password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const PASSWORD = 'pw-e2e-Zq81';
const basic = (userPass: string) => ({ authorization: `Basic ${Buffer.from(userPass).toString('base64')}` });

describe('access policies through the /v1 API', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const host = 'p01--guarded--locked.localhost';

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'locked' })).status, 200);
  });
  after(async () => {
    await p?.stop();
  });

  it('guards a service with basic auth, keeping only a hash of the password and never returning it', async () => {
    const created = await api(p, 'POST', '/v1/projects/locked/services/combined', {
      name: 'guarded',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: `file://${repo.dir}`, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { buildpack: { builder: 'HEROKU_24' } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', security: { credentials: [{ username: 'admin', password: PASSWORD, type: 'basic-auth' }] } }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.data.ports[0].security.credentials[0].password, '[redacted]');
    await waitFor(async () => {
      const r = await api(p, 'GET', '/v1/projects/locked/services/guarded');
      if (r.body.data.status.deployment.status === 'FAILED') throw new Error(JSON.stringify(r.body.data.status));
      return r.body.data.status.deployment.status === 'COMPLETED';
    }, 180_000, 'service COMPLETED');

    const refused = await viaRouter(p, host);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Basic realm="slipway"');
    assert.equal((await viaRouter(p, host, '/', { headers: basic('admin:wrong') })).status, 401);
    assert.equal((await viaRouter(p, host, '/', { headers: basic(`admin:${PASSWORD}`) })).status, 200);

    const got = await api(p, 'GET', '/v1/projects/locked/services/guarded');
    assert.equal(got.body.data.ports[0].security.credentials[0].password, '[redacted]');
    assert.ok(!JSON.stringify(got.body).includes(PASSWORD));
    // No file of the data directory holds the password in plain text (the store seals secrets; the router's files hold hashes).
    let hits = '';
    try {
      hits = execFileSync('grep', ['-rlaF', PASSWORD, p.dataDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch (err) {
      // grep exits 1 when nothing matches: what we want.
      if ((err as { status?: number }).status !== 1) throw err;
    }
    assert.equal(hits, '', 'files holding the plain password');
  });

  it('keeps the stored password when a read spec is written back, and refuses the placeholder for a new user', async () => {
    const got = await api(p, 'GET', '/v1/projects/locked/services/guarded');
    const ports = got.body.data.ports.map(({ id: _id, dns: _dns, ...port }: Record<string, unknown>) => port);
    const patched = await api(p, 'PATCH', '/v1/projects/locked/services/combined/guarded', { ports });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await waitFor(async () => (await viaRouter(p, host, '/', { headers: basic(`admin:${PASSWORD}`) })).status === 200, 60_000, 'the kept password is accepted');
    assert.equal((await viaRouter(p, host)).status, 401);
    const bad = structuredClone(ports);
    bad[0].security.credentials.push({ username: 'newbie', password: '[redacted]', type: 'basic-auth' });
    const refused = await api(p, 'PATCH', '/v1/projects/locked/services/combined/guarded', { ports: bad });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /ports\.0\.security\.credentials\.1\.password/);
  });

  it("reads and replaces a service's ports through the official client, an entry's id keeping that port's security", async () => {
    const nf = await northflankClient(p);
    const listed = await nf.get.service.ports({ parameters: { projectId: 'locked', serviceId: 'guarded' } });
    assert.equal(listed.data.ports.length, 1);
    const [p01] = listed.data.ports;
    assert.equal(p01.id, 'p01');
    assert.equal(p01.dns, host);
    assert.equal(p01.security?.credentials?.[0].password, '[redacted]');
    assert.deepEqual(p01.domains, []);

    // Keep p01 by id (its credentials stay without being sent), give it a custom domain, and add a TCP port.
    await nf.update.service.ports({
      parameters: { projectId: 'locked', serviceId: 'guarded' },
      data: {
        ports: [
          { id: 'p01', name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', domains: ['guarded.example.test'] },
          { name: 'p02', internalPort: 9000, public: true, protocol: 'TCP' },
        ],
      },
    });
    const after_ = await nf.get.service.ports({ parameters: { projectId: 'locked', serviceId: 'guarded' } });
    assert.deepEqual(after_.data.ports.map((x) => x.name), ['p01', 'p02']);
    assert.deepEqual(after_.data.ports[0].domains, [{ name: 'guarded.example.test', certificate: { inProgress: false } }]);
    assert.equal(after_.data.ports[1].protocol, 'TCP');
    assert.ok(!JSON.stringify(after_.data).includes(PASSWORD));
    // The TCP port's router port, as the native endpoints route reports it, once the route is in the table.
    const endpoints = async () => (await api(p, 'GET', '/projects/locked/services/guarded/endpoints')).body.endpoints as { port: string; tcpPort: number | null }[];
    const tcpPort = await waitFor(async () => (await endpoints()).find((e) => e.port === 'p02')?.tcpPort, 60_000, 'a router port for p02');
    const reported = await nf.get.service.ports({ parameters: { projectId: 'locked', serviceId: 'guarded' } });
    assert.equal((reported.data.ports[1] as Record<string, unknown>).tcpPort, tcpPort);
    // Through the router: the custom domain and p01 still ask for the kept credentials.
    await waitFor(async () => (await viaRouter(p, 'guarded.example.test')).status === 401, 60_000, 'the custom domain routed');
    for (const h of [host, 'guarded.example.test']) {
      assert.equal((await viaRouter(p, h)).status, 401, h);
      assert.equal((await viaRouter(p, h, '/', { headers: basic(`admin:${PASSWORD}`) })).status, 200, h);
    }

    // Without the id the entry is a new port: no security. An id that names no port is refused.
    await nf.update.service.ports({ parameters: { projectId: 'locked', serviceId: 'guarded' }, data: { ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }] } });
    await waitFor(async () => (await viaRouter(p, host)).status === 200, 60_000, 'p01 open once its security is dropped');
    assert.deepEqual((await endpoints()).map((e) => e.port), ['p01'], 'p02 removed');
    const unknown = await api(p, 'POST', '/v1/projects/locked/services/guarded/ports', { ports: [{ id: 'p09', name: 'p09', internalPort: 8080, protocol: 'HTTP' }] });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.ok(unknown.body.error.details['ports.0.id']);
    const badPort = await api(p, 'POST', '/v1/projects/locked/services/guarded/ports', { ports: [{ name: 'p01', internalPort: 70000, protocol: 'HTTP' }] });
    assert.equal(badPort.status, 400);
    assert.equal((await api(p, 'GET', '/v1/projects/locked/services/nope/ports')).status, 404);
  });
});
