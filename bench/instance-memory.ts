/**
 * bench/instance-memory: the resident memory slipway adds per additional running instance, beside PM2 running
 * the same app in the same run:
 *   node --import tsx bench/instance-memory.ts [counts=1,10,50]
 *
 * Both run the hello fixture the way its Procfile says (`/bin/sh -c 'node server.js'`; PM2 with
 * `interpreter: none`, so the app's process tree is the same under both). At each count, once every instance
 * answers and a settle time has passed, the summed RSS (and PSS, which shares library pages out fairly) of:
 *   slipway   the control plane and every process it left running (supervisor, router helpers, each
 *             instance's sandbox: bwrap and its PID-namespace init), the apps' own trees excluded;
 *             HAProxy (the data plane, when installed) in a column of its own
 *   pm2       PM2's daemon (PM2_HOME in a temporary directory) and its helpers, the apps excluded
 *   apps      the apps' process trees (the shell and node), for scale
 * The growth from the first count to each next one, divided by the added instances, is the cost of one more.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { api, fixtureRepo, freePort, routerPids, startTestPlatform, waitFor, ROOT } from '../test/support/platform.ts';

const counts = (process.argv[2] ?? '1,10,50').split(',').map(Number);
const SETTLE_MS = 4000;
const SAMPLES = 5;

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  comm: string;
  rssKb: number;
  pssKb: number;
}

function processes(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue;
      let pssKb = 0;
      try {
        pssKb = Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${d}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      } catch {}
      out.set(Number(d), { pid: Number(d), ppid: Number(f[1]), pgrp: Number(f[2]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), rssKb: Number(f[21]) * 4, pssKb });
    } catch {}
  }
  return out;
}

/** `roots` and every descendant of them. */
function trees(procs: Map<number, Proc>, roots: Set<number>): Set<number> {
  const out = new Set<number>();
  for (const p of procs.values()) {
    for (let q: Proc | undefined = p, depth = 0; q && depth < 64; q = procs.get(q.ppid), depth++) {
      if (roots.has(q.pid)) {
        out.add(p.pid);
        break;
      }
    }
  }
  return out;
}

interface Sample {
  own: { rss: number; pss: number };
  /** the part of `own` that is the instances' sandboxes (bwrap) */
  sandbox: { rss: number; pss: number };
  dataPlane: { rss: number; pss: number };
  apps: { rss: number; pss: number };
}

function sum(procs: Map<number, Proc>, pids: Iterable<number>): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const p = procs.get(pid);
    if (p) {
      rss += p.rssKb;
      pss += p.pssKb;
    }
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

/** Splits the processes under `roots` into the apps' trees (from `appRoots`, sandbox processes excepted), the data plane and the rest. */
function measure(roots: Set<number>, appRoots: (procs: Map<number, Proc>) => Set<number>): Sample {
  const procs = processes();
  const all = trees(procs, roots);
  const appTops = appRoots(procs);
  const apps = new Set([...trees(procs, appTops)].filter((pid) => procs.get(pid)?.comm !== 'bwrap'));
  // Processes in an app's process group that left its tree (a daemonizing child) are the app's too.
  for (const p of procs.values()) if (appTops.has(p.pgrp) && p.comm !== 'bwrap') apps.add(p.pid);
  const dataPlane = [...all].filter((pid) => procs.get(pid)?.comm === 'haproxy');
  const own = [...all].filter((pid) => !apps.has(pid) && procs.get(pid)?.comm !== 'haproxy');
  return { own: sum(procs, own), sandbox: sum(procs, own.filter((pid) => procs.get(pid)?.comm === 'bwrap')), dataPlane: sum(procs, dataPlane), apps: sum(procs, apps) };
}

async function settledSample(take: () => Sample): Promise<Sample> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const samples: Sample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    samples.push(take());
    await new Promise((r) => setTimeout(r, 1000));
  }
  const med = (f: (s: Sample) => number) => [...samples].map(f).sort((a, b) => a - b)[Math.floor(samples.length / 2)];
  return {
    own: { rss: med((s) => s.own.rss), pss: med((s) => s.own.pss) },
    sandbox: { rss: med((s) => s.sandbox.rss), pss: med((s) => s.sandbox.pss) },
    dataPlane: { rss: med((s) => s.dataPlane.rss), pss: med((s) => s.dataPlane.pss) },
    apps: { rss: med((s) => s.apps.rss), pss: med((s) => s.apps.pss) },
  };
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function slipway(): Promise<Map<number, Sample>> {
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn' });
  const out = new Map<number, Sample>();
  try {
    const repo = fixtureRepo('hello');
    await api(p, 'POST', '/v1/projects', { name: 'bench' });
    await api(p, 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: counts[0] },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web')).body.data.status.deployment.status === 'COMPLETED', 300_000, 'COMPLETED');
    const instancesDir = path.join(p.dataDir, 'runtime', 'instances');
    const appRoots = () => {
      const roots = new Set<number>();
      for (const id of fs.readdirSync(instancesDir)) {
        try {
          roots.add(JSON.parse(fs.readFileSync(path.join(instancesDir, id, 'state.json'), 'utf8')).appPid);
        } catch {}
      }
      return roots;
    };
    // The control plane, its router processes, and anything else started with this data directory on its
    // command line (a supervisor re-parented after a control-plane restart would be).
    const roots = () => {
      const r = new Set<number>([p.proc.pid!, ...routerPids(p.dataDir)]);
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(p.dataDir)) r.add(Number(d));
        } catch {}
      }
      return r;
    };
    for (const n of counts) {
      await api(p, 'POST', '/v1/projects/bench/services/web/scale', { instances: n });
      await waitFor(async () => {
        const c = (await api(p, 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers;
        return c.length === n && c.every((x: { ready: boolean }) => x.ready);
      }, 600_000, `${n} ready instances`);
      out.set(n, await settledSample(() => measure(roots(), appRoots)));
      console.error(`slipway ${n}: ${JSON.stringify(out.get(n))}`);
    }
  } finally {
    await p.stop();
  }
  return out;
}

async function pm2(): Promise<Map<number, Sample>> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pm2-mem-'));
  const env = { ...process.env, PM2_HOME: home };
  const bin = path.join(ROOT, 'node_modules/.bin/pm2');
  const run = (...args: string[]) => execFileSync(bin, args, { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const out = new Map<number, Sample>();
  const cwd = path.join(ROOT, 'test/fixtures/apps/hello');
  let started = 0;
  try {
    for (const n of counts) {
      const apps = [];
      for (let i = started; i < n; i++) apps.push({ name: `hello-${i}`, script: '/bin/sh', args: ['-c', 'node server.js'], interpreter: 'none', cwd, env: { PORT: String(await freePort()) }, autorestart: true });
      const file = path.join(home, `apps-${n}.json`);
      fs.writeFileSync(file, JSON.stringify({ apps }));
      run('start', file);
      started = n;
      const list = () => JSON.parse(run('jlist')) as { pid: number; pm2_env: { env?: { PORT?: string }; PORT?: string } }[];
      await waitFor(async () => {
        const l = list();
        if (l.length !== n) return false;
        for (const a of l) if (!(await portOpen(Number(a.pm2_env.PORT ?? a.pm2_env.env?.PORT)))) return false;
        return true;
      }, 600_000, `${n} pm2 apps answering`);
      const daemon = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
      const appPids = new Set(list().map((a) => a.pid));
      out.set(n, await settledSample(() => measure(new Set([daemon]), () => appPids)));
      console.error(`pm2 ${n}: ${JSON.stringify(out.get(n))}`);
    }
  } finally {
    try {
      run('kill');
    } catch {}
    fs.rmSync(home, { recursive: true, force: true });
  }
  return out;
}

async function main() {
  const s = await slipway();
  const m = await pm2();
  const first = counts[0];
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(`instance-memory (hello app, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log('  N   slipway RSS MB  (PSS)   haproxy RSS   pm2 RSS MB  (PSS)   apps slipway / pm2 RSS MB');
  for (const n of counts) {
    const a = s.get(n)!;
    const b = m.get(n)!;
    console.log(`${String(n).padStart(3)}   ${f(a.own.rss)} ${f(a.own.pss)}   ${f(a.dataPlane.rss)}   ${f(b.own.rss)} ${f(b.own.pss)}   ${f(a.apps.rss)} / ${f(b.apps.rss)}`);
  }
  for (const n of counts.slice(1)) {
    const added = n - first;
    const per = (x: Map<number, Sample>, k: 'rss' | 'pss', part: 'own' | 'sandbox' | 'dataPlane' | 'apps' = 'own') => (x.get(n)![part][k] - x.get(first)![part][k]) / added;
    // A ratio against a peer that adds next to nothing (within the noise of one daemon's heap) says nothing.
    const ratio = (a: number, b: number) => (b >= 0.1 ? `${(a / b).toFixed(1)}x` : 'n/a (pm2 adds < 0.1 MB)');
    console.log(
      `${first}→${n}: per added instance slipway ${per(s, 'rss').toFixed(2)} MB RSS (${per(s, 'pss').toFixed(2)} MB PSS), of which the sandbox ${per(s, 'rss', 'sandbox').toFixed(2)} MB RSS (${per(s, 'pss', 'sandbox').toFixed(2)} PSS); ` +
        `haproxy ${per(s, 'rss', 'dataPlane').toFixed(2)} MB; pm2 ${per(m, 'rss').toFixed(2)} MB RSS (${per(m, 'pss').toFixed(2)} MB PSS); ` +
        `ratio slipway/pm2 ${ratio(per(s, 'rss'), per(m, 'rss'))} RSS, ${ratio(per(s, 'pss'), per(m, 'pss'))} PSS; ` +
        `the app itself ${per(s, 'rss', 'apps').toFixed(1)} MB (slipway) / ${per(m, 'rss', 'apps').toFixed(1)} MB (pm2)`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
