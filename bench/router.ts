/**
 * Router throughput and latency, measured next to its peer in the same run: wrk against
 *   1. the backend directly (an nginx answering a static body),
 *   2. slipway's HAProxy data plane (HaproxyRouter),
 *   3. slipway's built-in Node proxy (NodeRouter),
 *   4. a hand-configured nginx reverse proxy (routing by Host as both planes do: the app's server_name, a
 *      default server answering 404; upstream keepalive 64, HTTP/1.1 to the upstream, the same
 *      X-Forwarded-For/Proto/Host/Port and X-Request-Id headers slipway's planes set; with BENCH_ACCESS_LOG=1
 *      a JSON access-log line per request with the same fields),
 *   5. a minimal hand-written HAProxy (one frontend, one backend, `http-reuse always`, X-Forwarded-For only,
 *      the same memory-pool options): the floor for HAProxy on this machine, so the gap to row 2 is what
 *      slipway's configuration costs.
 * Each runs ~4 s, 5 rounds interleaved after a warm-up; the report gives the median req/s, p50 and p99, the
 * ratio to nginx, and the proxy's CPU time per request (user + system of its processes over the run, from
 * /proc): on a shared machine that column moves much less than req/s when other work steals the core.
 *
 * Pinning (where taskset exists): wrk on core 0; this process, and so every proxy and the backend it starts,
 * on the last core. Every proxy is single-threaded here (nginx 1 worker, HAProxy 1 thread, Node one event
 * loop), so the comparison is per core. HAProxy sizes its threads to the CPUs it may run on, so pinned it has
 * one; the bench reads `Nbthread` back and says so.
 *
 *   node --import tsx bench/router.ts            (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS override;
 *                                                BENCH_ONLY=haproxy,node: those rows and nginx's only)
 *   BENCH_ACCESS_LOG=1 node --import tsx bench/router.ts   both planes with their access log on (as slipway runs them
 *                                                           by default), each entry written as a JSON line to a file;
 *                                                           nginx then logs the same fields as JSON to a file too
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import { haproxyAvailable, poolOptions } from '../src/router/haproxy/detect.ts';
import { routerFiles } from '../src/router/haproxy/config.ts';
import { cliCommand } from '../src/router/haproxy/runtime-api.ts';
import { NodeRouter } from '../src/router/node-proxy/node-router.ts';
import type { AccessLogEntry, Router, RoutingTable } from '../src/router/table.ts';
import type { AccessLogOutputs } from '../src/router/haproxy/access-log.ts';
import { ReleaseTraffic } from '../src/controllers/service/release-traffic.ts';
import { cpuMs, withChildren } from './support/proc.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const HOST = 'bench.test';
const ACCESS_LOG = process.env.BENCH_ACCESS_LOG === '1';
/**
 * With BENCH_ACCESS_LOG=1 the nginx peer writes the same fields as slipway's lines (the log envelope, then
 * the entry: router/haproxy/access-log-format.ts) as a JSON line per request, unbuffered.
 */
const NGINX_ACCESS_LOG_FORMAT = `  log_format slipway escape=json '{"level":30,"time":$msec,"pid":$pid,"hostname":"$hostname","component":"access","route":"bench/app/web","endpoint":"$upstream_addr","status":$status,"durationMs":$request_time,"ts":"$time_iso8601","client":"$remote_addr","method":"$request_method","host":"$host","path":"$request_uri","bytes":$body_bytes_sent,"requestId":"$request_id","msg":"access"}';
`;

interface Result {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: string;
  cpuUsPerReq: number;
  /** the part of cpuUsPerReq spent by this process (HAProxy's log follower, when the access log is on) */
  ownCpuUsPerReq: number;
}

function which(bin: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An nginx of our own: `-p <prefix> -c <conf>`, in the foreground so the child is the master we stop. */
class Nginx {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  constructor(
    private readonly bin: string,
    private readonly prefix: string,
    private readonly http: string,
  ) {}

  async start(port: number): Promise<void> {
    fs.mkdirSync(path.join(this.prefix, 'logs'), { recursive: true });
    const conf = path.join(this.prefix, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `worker_processes 1;
error_log ${this.prefix}/logs/error.log warn;
pid ${this.prefix}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${this.prefix}/tmp-body;
  proxy_temp_path ${this.prefix}/tmp-proxy;
  fastcgi_temp_path ${this.prefix}/tmp-fastcgi;
  uwsgi_temp_path ${this.prefix}/tmp-uwsgi;
  scgi_temp_path ${this.prefix}/tmp-scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
${this.http}
}
`,
    );
    this.child = spawn(this.bin, ['-p', this.prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr!.on('data', (d) => (stderr += d));
    this.exited = new Promise((r) => this.child!.once('exit', () => r()));
    await Promise.race([waitPort(port), this.exited.then(() => Promise.reject(new Error(`nginx exited: ${stderr}`)))]);
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /** SIGQUIT: graceful stop of the master we started (and so its workers); SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGQUIT');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

function parseDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** user + system CPU time of these processes, in µs (Linux /proc; 0 elsewhere) */
const cpuMicros = (pids: number[]) => cpuMs(...pids) * 1000;

function wrk(port: number, seconds: number, pin: boolean, pids: number[] = []): Promise<Result> {
  const cpuBefore = cpuMicros(pids);
  const ownBefore = pids.includes(process.pid) ? cpuMicros([process.pid]) : 0;
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}/`];
  const [cmd, argv] = pin ? ['taskset', ['-c', '0', 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk failed (${code}): ${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '';
      const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '';
      const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter(Boolean).join('; ');
      const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
      resolve({ rps, p50ms: parseDuration(p50), p99ms: parseDuration(p99), errors, cpuUsPerReq: pids.length && requests ? (cpuMicros(pids) - cpuBefore) / requests : NaN, ownCpuUsPerReq: pids.includes(process.pid) && requests ? (cpuMicros([process.pid]) - ownBefore) / requests : 0 });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main(): Promise<void> {
  const nginxBin = which('nginx');
  const haproxyBin = haproxyAvailable();
  if (!which('wrk')) throw new Error('wrk is not installed: install the Debian package wrk');
  if (!nginxBin) throw new Error('nginx is not installed: install the Debian package nginx');
  if (!haproxyBin) throw new Error('haproxy is not installed: install the Debian package haproxy');

  const cpus = os.availableParallelism();
  const pin = !!which('taskset') && cpus >= 2;
  if (pin) spawnSync('taskset', ['-cp', String(cpus - 1), String(process.pid)], { stdio: 'ignore' });
  console.log(`router bench: ${SECONDS}s x ${ROUNDS} rounds, ${CONNECTIONS} connections, ${cpus} cpus; ${pin ? `wrk on core 0, proxies and backend on core ${cpus - 1}` : 'no pinning'}${ACCESS_LOG ? '; access log on' : ''}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const backendPort = await freePort();
    const backend = new Nginx(nginxBin, path.join(tmp, 'backend'), `  server { listen 127.0.0.1:${backendPort}; default_type text/plain; location / { return 200 "hello from the backend\\n"; } }`);
    await backend.start(backendPort);
    stops.push(() => backend.stop());

    const table: RoutingTable = {
      routes: [{ key: 'bench/app/web', hosts: [HOST], project: 'bench', service: 'app', portName: 'web', protocol: 'HTTP', endpoints: [{ id: 'app-r1-0-0a1b2c3d', host: '127.0.0.1', port: backendPort, weight: 1 }], maintenance: false }],
    };

    // As slipway runs them by default: each request is written to the access log and feeds the per-release
    // metrics (ReleaseTraffic); HAProxy's lines are copied as read, the built-in router's entries serialised.
    let accessLog: ((e: AccessLogEntry) => void) | undefined;
    let haproxyLog: AccessLogOutputs | undefined;
    if (ACCESS_LOG) {
      const out = fs.createWriteStream(path.join(tmp, 'access.log'));
      stops.push(() => new Promise((r) => out.end(() => r())));
      const traffic = new ReleaseTraffic();
      accessLog = (e) => {
        traffic.record(e);
        out.write(`${JSON.stringify(e)}\n`);
      };
      // HAProxy's lines are written as slipway writes them to its standard output: one write(2) per read of the
      // ring, from this thread (process.stdout writes a file synchronously, and a pipe with room at once). A
      // WriteStream would hand each write to a libuv worker that wakes this thread again when done: two more
      // context switches per read, on the core HAProxy runs on.
      const fd = fs.openSync(path.join(tmp, 'access-haproxy.log'), 'w');
      stops.push(async () => fs.closeSync(fd));
      haproxyLog = { lines: (chunk) => void fs.writeSync(fd, chunk), requests: (route, endpoint, status, ms) => traffic.recordFields(route, endpoint, status, ms) };
    }
    const haproxy = new HaproxyRouter({ host: '127.0.0.1', port: 0, dataDir: path.join(tmp, 'haproxy'), haproxyBin, accessLog: haproxyLog });
    const nodeRouter = new NodeRouter({ host: '127.0.0.1', port: 0, accessLog });
    for (const r of [haproxy, nodeRouter] as Router[]) {
      await r.start();
      stops.push(() => r.stop());
      r.setTable(table);
    }
    await haproxy.settled();

    const nginxPort = await freePort();
    const nginxProxy = new Nginx(
      nginxBin,
      path.join(tmp, 'nginx-proxy'),
      `${ACCESS_LOG ? NGINX_ACCESS_LOG_FORMAT : ''}  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${nginxPort} default_server;
    return 404;
  }
  server {
    listen 127.0.0.1:${nginxPort};
    server_name ${HOST};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Request-Id $request_id;
    }${ACCESS_LOG ? `\n    access_log ${path.join(tmp, 'nginx-access.log')} slipway;` : ''}
  }`,
    );
    await nginxProxy.start(nginxPort);
    stops.push(() => nginxProxy.stop());

    // The floor: HAProxy with nothing of slipway's, on the same core and with the same thread count.
    const minimalPort = await freePort();
    const minimalDir = path.join(tmp, 'haproxy-minimal');
    fs.mkdirSync(minimalDir);
    fs.writeFileSync(
      path.join(minimalDir, 'haproxy.cfg'),
      `global
  stats socket ${minimalDir}/admin.sock mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
  option forwardfor
frontend bench
  bind 127.0.0.1:${minimalPort}
  default_backend app
backend app
  server s1 127.0.0.1:${backendPort}
`,
    );
    // The same memory-pool options as HaproxyRouter's (see poolOptions), so the gap is the configuration's.
    const minimal = spawn(haproxyBin, [...poolOptions(haproxyBin), '-f', path.join(minimalDir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const minimalExit = new Promise<void>((r) => minimal.once('exit', () => r()));
    stops.push(async () => {
      minimal.kill('SIGTERM');
      await minimalExit;
    });
    await waitPort(minimalPort);

    const haproxyFiles = routerFiles(path.join(tmp, 'haproxy', 'router'));
    const haproxyMaster = Number(fs.readFileSync(haproxyFiles.pidFile, 'utf8').trim().split('\n')[0]);
    const threads = async (sock: string) => /^Nbthread: (\d+)$/m.exec(await cliCommand(sock, 'show info', 2000))?.[1] ?? '?';
    console.log(`haproxy threads: HaproxyRouter ${await threads(haproxyFiles.adminSocket)}, minimal ${await threads(path.join(minimalDir, 'admin.sock'))}; nginx 1 worker; node 1 event loop`);

    const allTargets: Array<{ name: string; port: number; pids: () => number[] }> = [
      { name: 'backend direct', port: backendPort, pids: () => withChildren(backend.pid) },
      // With the access log on, this process follows HAProxy's log and writes it: its CPU counts as HAProxy's.
      { name: 'haproxy (HaproxyRouter)', port: haproxy.address().httpPort, pids: () => [...withChildren(haproxyMaster), ...(ACCESS_LOG ? [process.pid] : [])] },
      { name: 'node (NodeRouter)', port: nodeRouter.address().httpPort, pids: () => [process.pid] },
      { name: 'nginx proxy', port: nginxPort, pids: () => withChildren(nginxProxy.pid) },
      { name: 'haproxy minimal (hand)', port: minimalPort, pids: () => [minimal.pid!] },
    ];
    // BENCH_ONLY=haproxy,nginx: only the rows whose name starts with one of these (nginx stays as the peer).
    const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
    const targets = only ? allTargets.filter((t) => t.name.startsWith('nginx') || only.some((o) => t.name.startsWith(o))) : allTargets;
    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (const t of targets) await wrk(t.port, 1, pin); // warm-up: JIT, keep-alive pools
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const r = await wrk(t.port, SECONDS, pin, t.pids());
        results.get(t.name)!.push(r);
        console.log(`  round ${round} ${t.name.padEnd(24)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  cpu ${r.cpuUsPerReq.toFixed(1)} µs/req${t.name.startsWith('haproxy (') && r.ownCpuUsPerReq ? ` (log follower ${r.ownCpuUsPerReq.toFixed(1)})` : ''}${r.errors ? `  (${r.errors})` : ''}`);
      }
    }

    if (ACCESS_LOG) {
      // HAProxy drops a line rather than wait when the log pipe is full (access-log.ts): say how many it dropped.
      const dropped = /^DroppedLogs: (\d+)$/m.exec(await cliCommand(haproxyFiles.adminSocket, 'show info', 2000))?.[1] ?? '?';
      console.log(`  haproxy (HaproxyRouter) access-log lines dropped: ${dropped}`);
    }

    const summary = targets.map((t) => {
      const rs = results.get(t.name)!;
      return { name: t.name, rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50ms)), p99: median(rs.map((r) => r.p99ms)), cpu: median(rs.map((r) => r.cpuUsPerReq)) };
    });
    const ref = summary.find((s) => s.name === 'nginx proxy')!;
    console.log(`\nmedian of ${ROUNDS} rounds          req/s   vs nginx   p50 ms   p99 ms   cpu µs/req   vs nginx`);
    for (const s of summary)
      console.log(`  ${s.name.padEnd(24)} ${s.rps.toFixed(0).padStart(8)}   ${(s.rps / ref.rps).toFixed(2).padStart(6)}x   ${s.p50.toFixed(2).padStart(6)}   ${s.p99.toFixed(2).padStart(6)}   ${s.cpu.toFixed(1).padStart(10)}   ${(s.cpu / ref.cpu).toFixed(2).padStart(6)}x`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => console.error('stop failed:', (err as Error).message));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
