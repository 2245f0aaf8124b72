/**
 * The runtime driver conformance suite: every driver runs these cases (node:test) against real
 * instances. A driver that cannot pass a case lists it in `skip` with the reason, which the run prints.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { instancesOfService, type InstanceEvent, type InstanceSpec, type RuntimeDriver } from './driver.ts';

export interface ConformanceOptions {
  /** a directory holding the conformance app (see `conformanceApp`) */
  artifactDir: string;
  /** case name → why this driver cannot pass it */
  skip?: Record<string, string>;
  /** the image holding the conformance app (container runtimes; see test/fixtures/images/conformance) */
  image?: string;
  /** the shell command that runs the conformance app in the instance (default `node app.js`) */
  appCommand?: string;
  /**
   * What `PORT` the app sees: the host port of the first endpoint (default; the process runtime) or the
   * first port's internal port (container runtimes publish it on a host port).
   */
  portInside?: 'host' | 'internal';
}

/** The app every driver runs: answers HTTP with its environment, handles (at once or after BYE_AFTER_MS) or ignores SIGTERM on request, crashes on request. */
export const conformanceApp = `
const http = require('node:http');
const fs = require('node:fs');
const srv = http.createServer((req, res) => {
  let file = null;
  try { file = fs.readFileSync(process.env.FILE_AT || '/nonexistent', 'utf8'); } catch {}
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ env: { A: process.env.A, SLIPWAY_INSTANCE: process.env.SLIPWAY_INSTANCE, PORT: process.env.PORT }, file, filesDir: process.env.SLIPWAY_FILES_DIR || null }));
});
srv.listen(Number(process.env.PORT), '127.0.0.1');
console.log('out line');
console.error('err line');
if (process.env.IGNORE_TERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
else if (process.env.BYE_AFTER_MS) process.on('SIGTERM', () => setTimeout(() => { console.log('bye after cleanup'); process.exit(0); }, Number(process.env.BYE_AFTER_MS)));
else process.on('SIGTERM', () => { console.log('bye'); srv.close(); process.exit(0); });
if (process.env.CRASH_AFTER_MS) setTimeout(() => process.exit(7), Number(process.env.CRASH_AFTER_MS));
`;

export function writeConformanceApp(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'app.js'), conformanceApp);
}

let seq = 0;
function baseSpec(overrides: Partial<InstanceSpec> & { artifactDir: string }, appCommand = 'node app.js'): InstanceSpec {
  const id = `conf--svc--web-r1-${seq++}-${process.pid.toString(16)}`;
  return {
    id,
    labels: { project: 'conf', service: 'svc', release: 'r1', processType: 'web' },
    command: ['/bin/sh', '-c', `exec ${appCommand}`],
    env: { A: 'from-spec', SLIPWAY_INSTANCE: id },
    files: [],
    ports: [{ name: 'p01', internalPort: 8080 }],
    ...overrides,
  };
}

async function until<T>(f: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v) return v as T;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what}`);
}

/** GET / of an instance at an endpoint (`127.0.0.1` on the process and docker runtimes, the Pod's address on kubernetes). */
async function get(ep: { host: string; port: number }): Promise<any> {
  const { host, port } = ep;
  return until(async () => {
    try {
      const r = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/`);
      return await r.json();
    } catch {
      return undefined;
    }
  }, `HTTP on ${port}`);
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runDriverConformance(name: string, makeDriver: (stateDir: string) => RuntimeDriver, opts: ConformanceOptions): void {
  describe(`runtime driver conformance: ${name}`, () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-conf-${name}-`));
    const driver = makeDriver(stateDir);
    const started: string[] = [];
    const base = { artifactDir: opts.artifactDir, ...(opts.image ? { image: opts.image } : {}) };
    const app = opts.appCommand ?? 'node app.js';
    const spec = (overrides: Partial<InstanceSpec> & { artifactDir: string }) => baseSpec(overrides, app);
    const start = async (s: InstanceSpec) => {
      started.push(s.id);
      return driver.start(s);
    };
    const test = (caseName: string, fn: () => Promise<void>) => {
      const reason = opts.skip?.[caseName];
      if (reason) it(caseName, { skip: reason }, () => {});
      else it(caseName, fn);
    };

    after(async () => {
      for (const id of started) await driver.stop(id, 1).catch(() => {});
      await driver.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    });

    test('starts an instance whose first port answers HTTP, with PORT and the spec env set', async () => {
      const inst = await start(spec(base));
      const port = inst.endpoints[0].port;
      const body = await get(inst.endpoints[0]);
      assert.equal(body.env.A, 'from-spec');
      assert.equal(body.env.PORT, String(opts.portInside === 'internal' ? inst.endpoints[0].internalPort : port));
      assert.equal(body.env.SLIPWAY_INSTANCE, inst.id);
    });

    test('places runtime files at their absolute paths', async () => {
      const inst = await start(spec({ ...base, env: { FILE_AT: '/etc-app/conf/settings.txt' }, files: [{ path: '/etc-app/conf/settings.txt', content: Buffer.from('secret=1') }] }));
      assert.equal((await get(inst.endpoints[0])).file, 'secret=1');
    });

    test('is idempotent per instance id, even for concurrent starts', async () => {
      const s = spec(base);
      const [a, b] = await Promise.all([start(s), start(s)]);
      const c = await start(s);
      assert.equal(a.pid, b.pid);
      assert.equal(a.pid, c.pid);
      assert.equal((await driver.list()).filter((i) => i.id === s.id).length, 1);
    });

    test('lists one service’s instances (listService where the driver has it) as list() does by the labels', async () => {
      const mine = await start(spec(base));
      const o = spec(base);
      const other = await start({ ...o, id: o.id.replace('conf--svc--', 'conf--svc2--'), labels: { ...o.labels, service: 'svc2' } });
      const byLabels = (await driver.list()).filter((i) => i.labels.project === 'conf' && i.labels.service === 'svc').map((i) => i.id).sort();
      const ofService = (await instancesOfService(driver, 'conf', 'svc')).map((i) => i.id).sort();
      assert.deepEqual(ofService, byLabels);
      assert.ok(ofService.includes(mine.id) && !ofService.includes(other.id));
      assert.deepEqual((await instancesOfService(driver, 'conf', 'svc2')).map((i) => i.id), [other.id]);
      await driver.stop(other.id, 1);
    });

    test('stops gracefully with SIGTERM and removes the instance', async () => {
      const inst = await start(spec(base));
      await get(inst.endpoints[0]);
      await driver.stop(inst.id, 5);
      assert.equal((await driver.list()).some((i) => i.id === inst.id), false);
      assert.equal(alive(inst.pid), false);
      const lines: string[] = [];
      for await (const l of driver.logs(inst.id, { tail: 10 })) lines.push(l.line);
      assert.ok(lines.includes('bye'), 'the app saw SIGTERM and exited itself');
    });

    test('kills an instance that ignores SIGTERM once the grace period is over', async () => {
      const inst = await start(spec({ ...base, env: { IGNORE_TERM: '1' } }));
      await get(inst.endpoints[0]);
      await driver.stop(inst.id, 1);
      assert.equal(alive(inst.pid), false);
    });

    test('reports a crash with its exit code through list and watch', async () => {
      const events: InstanceEvent[] = [];
      const unwatch = driver.watch((e) => events.push(e));
      const inst = await start(spec({ ...base, env: { CRASH_AFTER_MS: '200' } }));
      const exited = await until(async () => (await driver.list()).find((i) => i.id === inst.id && i.state === 'exited'), 'exit observed');
      assert.equal(exited.exitCode, 7);
      await until(() => events.some((e) => e.type === 'exited' && e.instance.id === inst.id), 'exited event');
      assert.equal(events.filter((e) => e.type === 'exited' && e.instance.id === inst.id).length, 1);
      unwatch();
      await driver.remove(inst.id);
    });

    test('captures stdout and stderr lines with timestamps', async () => {
      const inst = await start(spec(base));
      await get(inst.endpoints[0]);
      const lines = await until(async () => {
        const ls = [];
        for await (const l of driver.logs(inst.id, { tail: 50 })) ls.push(l);
        return ls.length >= 2 ? ls : undefined;
      }, 'log lines');
      assert.ok(lines.some((l) => l.stream === 'stdout' && l.line === 'out line'));
      assert.ok(lines.some((l) => l.stream === 'stderr' && l.line === 'err line'));
      assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.ts))));
    });

    test('runs a command inside the instance (CMD probes)', async () => {
      const inst = await start(spec(base));
      const ok = await driver.exec(inst.id, ['/bin/sh', '-c', 'echo hi; exit 0']);
      assert.deepEqual(ok, { exitCode: 0, output: 'hi\n' });
      const bad = await driver.exec(inst.id, ['/bin/sh', '-c', 'exit 4']);
      assert.equal(bad.exitCode, 4);
    });

    test('runs the command where the app runs: it sees what the app wrote to its /tmp', async () => {
      const inst = await start(spec({ ...base, command: ['/bin/sh', '-c', `echo from-app > /tmp/marker-$SLIPWAY_INSTANCE && exec ${app}`] }));
      await get(inst.endpoints[0]);
      const r = await driver.exec(inst.id, ['/bin/sh', '-c', `cat /tmp/marker-${inst.id}`]);
      assert.deepEqual(r, { exitCode: 0, output: 'from-app\n' });
    });

    test('samples resource usage', async () => {
      const inst = await start(spec(base));
      await get(inst.endpoints[0]);
      const u = await driver.usage(inst.id);
      assert.ok(u && u.memoryBytes > 0 && u.cpuPercent >= 0);
    });

    test('reports the CPU of a busy instance, counting a child process of the app', async () => {
      const inst = await start(spec({ ...base, command: ['/bin/sh', '-c', `sh -c 'while :; do :; done' & exec ${app}`] }));
      await get(inst.endpoints[0]);
      // CPU is a rate: the first reading is the baseline; later ones see the loop's time (how much depends on
      // what else the machine runs, so any share above 0 will do).
      await driver.usage(inst.id);
      let cpu = 0;
      for (let i = 0; i < 60 && cpu <= 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        cpu = (await driver.usage(inst.id))?.cpuPercent ?? 0;
      }
      assert.ok(cpu > 0, `cpu ${cpu}`);
    });

    test('a second driver over the same state adopts running instances and can stop them', async () => {
      const inst = await start(spec(base));
      await get(inst.endpoints[0]);
      const other = makeDriver(stateDir);
      const seen = (await other.list()).find((i) => i.id === inst.id);
      assert.equal(seen?.state, 'running');
      assert.deepEqual(seen?.endpoints, inst.endpoints);
      await other.stop(inst.id, 2);
      assert.equal(alive(inst.pid), false);
      await other.close();
    });
  });
}
