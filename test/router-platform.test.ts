/**
 * The router driven through the platform's public API, on both data planes: the `/v1` fields that shape
 * routing (`loadBalancing`, `domains`, `disableNfDomain`) reach the live router and change what real requests
 * meet, and a service's requests are counted on the metrics port under its own labels. The router's own
 * behaviour in depth is test/router-conformance.test.ts; this file proves the wiring from the API to it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, freePort, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const PLANES = ['haproxy', 'builtin'] as const;
const PROJECT = 'edge';

/** `proxy` label → route labels, from the metrics port's /routes document. */
function routeInfo(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const line of text.split('\n')) {
    const m = /^slipway_route_info\{(.*)\} 1$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.set(labels.proxy, labels);
  }
  return out;
}

for (const plane of PLANES) {
  describe(`router through the API: ${plane}`, () => {
    let p: RunningPlatform;
    let metricsPort: number;
    const repo = fixtureRepo('hello');
    const svcPath = (s: string) => `/v1/projects/${PROJECT}/services/${s}`;
    const completed = (s: string, what: string) =>
      waitFor(async () => (await api(p, 'GET', svcPath(s))).body.data?.status?.deployment?.status === 'COMPLETED', 120_000, `${s}: ${what}`);
    const patch = async (s: string, body: unknown) => {
      const res = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/${s}`, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    /** The instance that answers a request through the router, on a fresh connection. */
    const instanceFor = async (host: string, headers: Record<string, string> = {}) => {
      const res = await viaRouter(p, host, '/', { headers });
      assert.equal(res.status, 200, `${host}: ${res.status}`);
      return (await res.json()).instance as string;
    };
    const create = async (name: string, instances: number, port: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const res = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
        name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', ...port }],
        ...extra,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await completed(name, 'first release');
    };

    before(async () => {
      metricsPort = await freePort();
      p = await startTestPlatform({ SLIPWAY_ROUTER: plane, SLIPWAY_ROUTER_METRICS_PORT: String(metricsPort) });
      assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
    });
    after(async () => {
      await p?.stop();
    });

    it('spreads requests over every instance, then keeps each header value on one instance once loadBalancing says consistentHash', async () => {
      await create('balanced', 3, {});
      const host = `balanced.${PROJECT}.localhost`;
      // Round robin (the default): three instances, all of them reached.
      const seen = new Set<string>();
      await waitFor(async () => {
        seen.add(await instanceFor(host));
        return seen.size === 3;
      }, 30_000, 'all three instances answering');

      await patch('balanced', { loadBalancing: { mode: 'consistentHash', consistentHash: { mode: 'customHeader', header: 'x-user' } } });
      const got = (await api(p, 'GET', svcPath('balanced'))).body.data;
      assert.deepEqual(got.loadBalancing, { mode: 'consistentHash', consistentHash: { mode: 'customHeader', header: 'x-user' } });
      await completed('balanced', 'after the loadBalancing change');
      // The router takes the change when the controller passes the table on: wait until one user sticks.
      await waitFor(async () => {
        const ids = new Set<string>();
        for (let i = 0; i < 8; i++) ids.add(await instanceFor(host, { 'x-user': 'user-0' }));
        return ids.size === 1;
      }, 30_000, 'user-0 kept on one instance');
      const byUser = new Map<string, string>();
      for (let u = 0; u < 12; u++) {
        const ids = new Set<string>();
        for (let i = 0; i < 4; i++) ids.add(await instanceFor(host, { 'x-user': `user-${u}` }));
        assert.equal(ids.size, 1, `user-${u} reached ${[...ids].join(', ')}`);
        byUser.set(`user-${u}`, [...ids][0]);
      }
      // Twelve users on three instances: the hash spreads them (all on one would be 3 × (1/3)^12).
      assert.ok(new Set(byUser.values()).size >= 2, JSON.stringify([...byUser]));
    });

    it('serves a custom domain beside the default one, and drops the default one with disableNfDomain', async () => {
      await create('front', 1, { domains: ['shop.example.test'] });
      const defaultHost = `p01--front--${PROJECT}.localhost`;
      await waitFor(async () => (await viaRouter(p, 'shop.example.test')).status === 200, 30_000, 'the custom domain answering');
      assert.equal((await viaRouter(p, defaultHost)).status, 200);
      assert.equal((await viaRouter(p, `front.${PROJECT}.localhost`)).status, 200);
      assert.equal((await api(p, 'GET', svcPath('front'))).body.data.ports[0].dns, defaultHost);

      await patch('front', { ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', domains: ['shop.example.test'], disableNfDomain: true }] });
      await waitFor(async () => (await viaRouter(p, defaultHost)).status === 404, 60_000, 'the default domain gone');
      assert.equal((await viaRouter(p, `front.${PROJECT}.localhost`)).status, 404);
      assert.equal((await viaRouter(p, 'shop.example.test')).status, 200);
      assert.equal((await viaRouter(p, 'SHOP.Example.TEST:8080')).status, 200, 'hosts match without case or port');
      const port = (await api(p, 'GET', svcPath('front'))).body.data.ports[0];
      assert.equal(port.dns, undefined, JSON.stringify(port));
      assert.deepEqual(port.domains, [{ name: 'shop.example.test', certificate: { inProgress: false } }], 'a read lists domains as the client declares them');
    });

    it("counts a service's requests on the metrics port under its project and service", async () => {
      await create('counted', 1, {});
      const host = `counted.${PROJECT}.localhost`;
      await waitFor(async () => (await viaRouter(p, host)).status === 200, 30_000, 'the service answering');
      const scrape = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
        assert.equal(res.status, 200, path);
        return res.text();
      };
      const info = routeInfo(await scrape('/routes'));
      const proxy = [...info.values()].find((l) => l.project === PROJECT && l.service === 'counted' && l.port === 'p01')?.proxy;
      assert.ok(proxy, `no route info for ${PROJECT}/counted in ${JSON.stringify([...info.values()])}`);
      const requests = async () => {
        const m = new RegExp(`^haproxy_backend_http_requests_total\\{proxy="${proxy}"\\} (\\d+)$`, 'm').exec(await scrape('/metrics'));
        return m ? Number(m[1]) : undefined;
      };
      // Counters restart when HAProxy reloads (another service's route changing), so count the increase
      // over a burst and retry a burst that a reload cut into.
      await waitFor(async () => {
        const before_ = await requests();
        if (before_ === undefined) return false;
        const answers = await Promise.all(Array.from({ length: 20 }, () => viaRouter(p, host)));
        assert.ok(answers.every((r) => r.status === 200), answers.map((r) => r.status).join(' '));
        const after_ = await requests();
        return after_ !== undefined && after_ - before_ === 20;
      }, 30_000, '20 requests counted for the service');
    });
  });
}
