/**
 * The HAProxy data plane at services × instances servers, through slipway's own HaproxyRouter (what the
 * controllers call): from `setTable` to `settled()` for
 *   - a Runtime-API update: one endpoint of one route re-weighted (no reload);
 *   - a new route on a spare backend (Runtime API only: server slots, then the host map);
 *   - a reload: one route added that no spare holds (least-connection balancing: the configuration is
 *     rewritten, checked and reloaded);
 * and, as the peer of the reload, HAProxy's own `haproxy -c` check of the same configuration file.
 * The endpoints point at 127.0.0.1 ports nobody dials (no request is sent in this phase).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HaproxyRouter } from '../../src/router/haproxy/haproxy-router.ts';
import type { Route, RoutingTable } from '../../src/router/table.ts';
import { freePort } from '../../test/support/platform.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function route(i: number, perService: number, weight = 1): Route {
  const key = `bench/s${i}/p01`;
  return {
    key,
    hosts: [`s${i}.bench.localhost`, `p01--s${i}--bench.localhost`],
    project: 'bench',
    service: `s${i}`,
    portName: 'p01',
    protocol: 'HTTP',
    maintenance: false,
    endpoints: Array.from({ length: perService }, (_, j) => ({ id: `bench--s${i}--web-r1-${j}-abc`, host: '127.0.0.1', port: 30000 + ((i * perService + j) % 30000), weight: j === 0 ? weight : 1 })),
  };
}

export async function measureHaproxy(services: number, perService: number, log: (...a: unknown[]) => void): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-scale-haproxy-'));
  const router = new HaproxyRouter({ host: '127.0.0.1', port: await freePort(), dataDir });
  try {
    await router.start();
    const routes = Array.from({ length: services }, (_, i) => route(i, perService));
    const t0 = performance.now();
    router.setTable({ routes });
    await router.settled();
    const first = performance.now() - t0;
    const time = async (table: RoutingTable) => {
      const t = performance.now();
      router.setTable(table);
      await router.settled();
      return performance.now() - t;
    };
    const updates: number[] = [];
    for (let k = 0; k < 20; k++) {
      const i = (k * 37) % services;
      updates.push(await time({ routes: routes.map((r, n) => (n === i ? route(i, perService, 2 + (k % 5)) : r)) }));
    }
    const added: number[] = [];
    const reloads: number[] = [];
    let extra = services;
    const grown = [...routes];
    for (let k = 0; k < 5; k++) {
      grown.push(route(extra++, perService));
      added.push(await time({ routes: [...grown] }));
    }
    for (let k = 0; k < 5; k++) {
      grown.push({ ...route(extra++, perService), loadBalancing: { mode: 'leastConnection' } });
      reloads.push(await time({ routes: [...grown] }));
    }
    const config = path.join(dataDir, 'router', 'haproxy.cfg');
    const checks: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      execFileSync('haproxy', ['-c', '-q', '-f', config]);
      checks.push(performance.now() - t);
    }
    const servers = (services + 10) * perService;
    log(`  HAProxy data plane at ${services} routes × ${perService} endpoints (${servers} servers; setTable → settled):`);
    log(`    first table                     ${first.toFixed(0)} ms`);
    log(`    Runtime-API update (1 weight)   ${median(updates).toFixed(1)} ms median of ${updates.length} (max ${Math.max(...updates).toFixed(1)} ms)`);
    log(`    new route (on a spare backend)  ${median(added).toFixed(1)} ms median of ${added.length} (max ${Math.max(...added).toFixed(1)} ms)`);
    log(`    reload (1 route added, no spare fits) ${median(reloads).toFixed(0)} ms median of ${reloads.length}; HAProxy's own check of that configuration (haproxy -c) ${median(checks).toFixed(0)} ms`);
  } finally {
    await router.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
