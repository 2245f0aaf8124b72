/**
 * Where a service answers, end to end: a public TCP port gets a router port of its own (reported by the API)
 * that forwards raw TCP to the instances; HTTP ports report their host names and answer through the router.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

describe('service endpoints', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  before(async () => {
    p = await startTestPlatform({ SLIPWAY_ROUTER_ACCESS_LOG: 'on' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'ends' })).status, 200);
    for (const [name, protocol] of [['raw', 'TCP'], ['web', 'HTTP']] as const) {
      const created = await api(p, 'POST', '/v1/projects/ends/services/combined', {
        name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol }],
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
    }
    await waitFor(async () => {
      const s = await Promise.all(['raw', 'web'].map(async (n) => (await api(p, 'GET', `/v1/projects/ends/services/${n}`)).body.data.status.deployment.status));
      return s.every((x) => x === 'COMPLETED');
    }, 120_000, 'both deployed');
  });
  after(async () => {
    await p?.stop();
  });

  it('gives a public TCP port its own router port and forwards raw TCP to the instance', async () => {
    const res = await api(p, 'GET', '/projects/ends/services/raw/endpoints');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [ep] = res.body.endpoints;
    assert.equal(ep.protocol, 'TCP');
    assert.equal(typeof ep.tcpPort, 'number', JSON.stringify(ep));
    // The app speaks HTTP; through a TCP route the bytes pass untouched.
    const body = await waitFor(
      () =>
        new Promise<string | undefined>((resolve) => {
          http.get({ host: '127.0.0.1', port: ep.tcpPort, path: '/', agent: false }, (r) => {
            let b = '';
            r.on('data', (c) => (b += c));
            r.on('end', () => resolve(r.statusCode === 200 ? b : undefined));
          }).on('error', () => resolve(undefined));
        }),
      30_000,
      'an answer through the TCP port',
    );
    assert.equal(JSON.parse(body).message, 'hello');
  });

  it('reports the host names of an HTTP port', async () => {
    const res = await api(p, 'GET', '/projects/ends/services/web/endpoints');
    assert.deepEqual(res.body.endpoints[0].hosts, ['p01--web--ends.localhost', 'web.ends.localhost']);
    assert.equal(res.body.endpoints[0].httpPort, p.routerPort);
    assert.equal((await viaRouter(p, 'web.ends.localhost', '/logged?x=1')).status, 200);
    // The platform writes a structured access-log line for it.
    const line = await waitFor(() => p.logs.join('').split('\n').find((l) => l.includes('"component":"access"') && l.includes('/logged?x=1')), 30_000, 'an access-log line');
    const entry = JSON.parse(line);
    assert.deepEqual([entry.method, entry.status, entry.host, entry.route], ['GET', 200, 'web.ends.localhost', 'ends/web/p01']);
  });
});
