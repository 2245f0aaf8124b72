/**
 * The process runtime's one supervisor per state directory: every instance runs under it, and when it is
 * killed with SIGKILL the instances run on, output written meanwhile is kept, and the supervisor the driver
 * starts next adopts them: it records their exit codes (from bwrap's own report) and enforces their memory.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeConformanceApp } from '../src/runtime/conformance.ts';
import type { InstanceSpec } from '../src/runtime/driver.ts';
import { ProcessDriver } from '../src/runtime/process/supervised-driver.ts';
import { SupervisorClient } from '../src/runtime/process/supervisor-client.ts';
import { waitFor } from './support/platform.ts';

const artifactDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sup-app-'));
writeConformanceApp(artifactDir);
// An app that grows its memory by 32 MB every time it is asked to (GET /grow), for the memory limit.
fs.writeFileSync(
  path.join(artifactDir, 'grow.js'),
  `const hold = []; require('node:http').createServer((req, res) => { if (req.url === '/grow') hold.push(Buffer.alloc(32 * 1024 * 1024, 1)); res.end(String(hold.length)); }).listen(Number(process.env.PORT), '127.0.0.1');`,
);

// An app that takes 500 ms to end after SIGTERM.
fs.writeFileSync(
  path.join(artifactDir, 'slow-stop.js'),
  `require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'); process.on('SIGTERM', () => setTimeout(() => process.exit(0), 500));`,
);

/** The live processes running supervisor.mjs over `stateDir`. */
function supervisors(stateDir: string): number[] {
  const real = fs.realpathSync(stateDir);
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
      return !zombie && cmd.includes('supervisor.mjs') && cmd.includes(real) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

function umaskOf(pid: number): string | undefined {
  return /^Umask:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
}

function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function answers(port: number, pathname = '/'): Promise<string | undefined> {
  return fetch(`http://127.0.0.1:${port}${pathname}`).then((r) => r.text(), () => undefined);
}

let seq = 0;
function spec(env: Record<string, string>, command = 'exec node app.js', extra: Partial<InstanceSpec> = {}): InstanceSpec {
  const id = `sup--svc--web-r1-${seq++}-${process.pid.toString(16)}`;
  return { id, labels: { project: 'sup', service: 'svc', release: 'r1', processType: 'web' }, artifactDir, command: ['/bin/sh', '-c', command], env, files: [], ports: [{ name: 'p01', internalPort: 8080 }], ...extra };
}

async function logLines(driver: ProcessDriver, id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of driver.logs(id)) out.push(l.line);
  return out;
}

describe('the process runtime supervisor', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sup-'));
  const driver = new ProcessDriver({ stateDir, isolation: 'bwrap' });
  const started: string[] = [];
  const start = async (s: InstanceSpec) => {
    started.push(s.id);
    return driver.start(s);
  };
  after(async () => {
    for (const id of started) await driver.stop(id, 1).catch(() => {});
    await driver.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs every instance of a state directory under one supervisor process', async () => {
    const insts = await Promise.all([0, 1, 2].map(() => start(spec({}))));
    for (const i of insts) await waitFor(() => answers(i.endpoints[0].port), 20_000, 'instance answers');
    const sups = supervisors(stateDir);
    assert.equal(sups.length, 1, `one supervisor: ${sups}`);
    for (const i of insts) assert.equal(parentOf(i.pid!), sups[0], 'each instance is a child of the supervisor');
    // The socket is private to the state directory's owner; the apps keep the platform's umask all the same.
    assert.equal(fs.statSync(path.join(stateDir, 'supervisor.sock')).mode & 0o077, 0, 'no access for group or others');
    assert.equal(umaskOf(insts[0].pid!), umaskOf(process.pid));
    for (const i of insts) await driver.stop(i.id, 2);
  });

  it('answers many requests over one connection, each reply with its request seq; a request without seq gets a reply without', async () => {
    const sock = net.connect(path.join(stateDir, 'supervisor.sock'));
    await once(sock, 'connect');
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (buf += d));
    // Two starts of an id with no launch.json (refused, each with its seq), a ping with a seq, one without.
    sock.write('{"op":"start","id":"sup--svc--web-r1-missing-1","seq":41}\n{"op":"ping","seq":42}\n{"op":"start","id":"sup--svc--web-r1-missing-2","seq":43}\n{"op":"ping"}\n');
    await waitFor(() => buf.split('\n').length > 4, 10_000, 'four replies');
    sock.destroy();
    const replies = buf.trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; seq?: number; error?: string });
    assert.deepEqual(replies.map((r) => r.seq).sort(), [41, 42, 43, undefined]);
    assert.equal(replies.find((r) => r.seq === 42)?.ok, true);
    for (const seq of [41, 43]) assert.match(replies.find((r) => r.seq === seq)?.error ?? '', /launch\.json/);
    // The driver's own starts share one kept connection: concurrent ones each get their own answer.
    const insts = await Promise.all([0, 1, 2, 3].map(() => start(spec({}))));
    assert.equal(new Set(insts.map((i) => i.pid)).size, 4, 'four instances, four processes');
    for (const i of insts) await driver.stop(i.id, 2);
  });

  it('keeps instances running when the supervisor is killed with SIGKILL; the next one adopts them, their output and their exit codes', async () => {
    // One app that writes a line every 200 ms and one that crashes (exit 7) while no supervisor runs.
    const chatty = await start(spec({}, 'while :; do echo tick; sleep 0.2; done & exec node app.js'));
    const crasher = await start(spec({ CRASH_AFTER_MS: '1500' }));
    await waitFor(() => answers(chatty.endpoints[0].port), 20_000, 'chatty answers');
    const [sup] = supervisors(stateDir);
    assert.ok(sup);
    process.kill(sup, 'SIGKILL');
    await waitFor(() => supervisors(stateDir).length === 0, 10_000, 'the supervisor gone');
    const linesBefore = (await logLines(driver, chatty.id)).filter((l) => l === 'tick').length;

    // No supervisor for a while: the apps run on, one writes, the other ends.
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(await answers(chatty.endpoints[0].port), 'the instance still answers without a supervisor');
    assert.ok(fs.readFileSync(path.join(stateDir, 'instances', chatty.id, 'stdout.raw'), 'utf8').split('\n').filter((l) => l === 'tick').length > linesBefore + 3, 'it kept writing its output');

    // A new driver (a restarted control plane) finds the instances, starts a supervisor, which adopts them.
    const next = new ProcessDriver({ stateDir, isolation: 'bwrap' });
    try {
      const seen = await next.list();
      assert.equal(seen.find((i) => i.id === chatty.id)?.state, 'running');
      const crashed = seen.find((i) => i.id === crasher.id);
      assert.equal(crashed?.state, 'exited');
      assert.equal(crashed?.exitCode, 7, 'the exit code of an app that ended with no supervisor is known');
      await waitFor(() => supervisors(stateDir).length === 1, 20_000, 'a new supervisor');
      assert.notEqual(supervisors(stateDir)[0], sup);
      // The new supervisor collects what was written meanwhile, and goes on collecting.
      await waitFor(async () => (await logLines(next, chatty.id)).filter((l) => l === 'tick').length > linesBefore + 10, 20_000, 'output written while no supervisor ran, collected');
      await waitFor(() => fs.existsSync(path.join(stateDir, 'instances', crasher.id, 'exit.json')), 20_000, 'the exit recorded');
      assert.equal(JSON.parse(fs.readFileSync(path.join(stateDir, 'instances', crasher.id, 'exit.json'), 'utf8')).code, 7);
      // Stopping an adopted instance works as before: SIGTERM, its handler runs, the exit is recorded.
      await next.stop(chatty.id, 5);
      assert.ok((await logLines(next, chatty.id)).includes('bye'), 'the app saw SIGTERM');
      await next.remove(crasher.id);
    } finally {
      await next.close();
    }
  });

  it('tells a stopping driver when an instance has ended, its own child or one it adopted, rather than being polled', async () => {
    const client = new SupervisorClient(fs.realpathSync(stateDir));
    const own = await start(spec({}));
    await waitFor(() => answers(own.endpoints[0].port), 20_000, 'answers');
    assert.equal(await client.waitExit(own.id, 50), false, 'a running instance: the wait runs out');
    const told = client.waitExit(own.id, 20_000);
    process.kill(own.pid!, 'SIGTERM');
    assert.equal(await told, true, 'the end of a child of the supervisor is told');
    assert.ok(fs.existsSync(path.join(stateDir, 'instances', own.id, 'exit.json')), 'told once the exit is recorded');
    assert.equal(await client.waitExit(own.id, 20_000), true, 'an instance that has ended: told at once');
    await driver.remove(own.id);

    // One started by an earlier supervisor: no child of this one, so no exit event; still told.
    const adopted = await start(spec({}));
    await waitFor(() => answers(adopted.endpoints[0].port), 20_000, 'answers');
    const [sup] = supervisors(stateDir);
    process.kill(sup, 'SIGKILL');
    await waitFor(() => supervisors(stateDir).length === 0, 10_000, 'the supervisor gone');
    assert.equal(await client.waitExit(adopted.id, 1000), undefined, 'no supervisor: nobody to tell, the driver looks for itself');
    // A new driver (a restarted control plane) starts the next supervisor, which adopts the instance.
    const next = new ProcessDriver({ stateDir, isolation: 'bwrap' });
    try {
      await next.list();
      await waitFor(() => supervisors(stateDir).length === 1, 20_000, 'a new supervisor');
      await waitFor(async () => (await client.waitExit(adopted.id, 0)) === false, 20_000, 'the new supervisor follows the instance');
      const toldAdopted = client.waitExit(adopted.id, 20_000);
      process.kill(adopted.pid!, 'SIGKILL');
      assert.equal(await toldAdopted, true);
      assert.equal((await next.list()).find((i) => i.id === adopted.id)?.state, 'exited');
      await next.remove(adopted.id);
    } finally {
      await next.close();
    }
  });

  it('ends the whole sandbox when its bwrap process is killed alone', async () => {
    // bwrap no longer dies with the supervisor (--die-with-parent), so nothing else would end the app inside.
    const inst = await start(spec({}));
    await waitFor(() => answers(inst.endpoints[0].port), 20_000, 'answers');
    process.kill(inst.pid!, 'SIGKILL');
    const exited = await waitFor(async () => (await driver.list()).find((i) => i.id === inst.id && i.state === 'exited'), 20_000, 'the exit recorded');
    assert.equal(exited.signal, 'SIGKILL');
    assert.equal(exited.reason, undefined, 'nobody asked it to stop: a crash');
    await waitFor(async () => (await answers(inst.endpoints[0].port)) === undefined, 20_000, 'the app inside gone too');
    await driver.remove(inst.id);
  });

  it('runs an instance two control planes launch at once once, on the port each of them reports', async () => {
    // A replica that lost its lease mid-launch (paused, then resumed) launches what the new holder launched
    // meanwhile: the later launch must find the earlier one, not write its own port over it. Whether a write
    // over it leaves the app on another port than the one listed depends on timing, so it runs 20 rounds.
    const other = new ProcessDriver({ stateDir, isolation: 'bwrap' });
    try {
      for (let round = 0; round < 20; round++) {
        const s = spec({});
        started.push(s.id);
        const [a, b] = await Promise.all([driver.start(s), other.start(s)]);
        assert.equal(a.pid, b.pid, 'one process');
        const listed = (await driver.list()).find((i) => i.id === s.id)!;
        assert.deepEqual([a.endpoints[0]!.port, b.endpoints[0]!.port], [listed.endpoints[0]!.port, listed.endpoints[0]!.port], 'every driver reports the port the runtime lists');
        await waitFor(() => answers(listed.endpoints[0]!.port), 20_000, 'the instance answers on the port the runtime lists');
        await driver.stop(s.id, 2);
      }
    } finally {
      await other.close();
    }
  });

  it('reports an instance whose stopping control plane died mid-stop as stopped (reason Stopped), not crashed', async () => {
    const inst = await start(spec({}, 'exec node slow-stop.js'));
    await waitFor(() => answers(inst.endpoints[0].port), 20_000, 'answers');
    // Another control plane (a process of its own) begins the stop and is killed with SIGKILL once it has
    // signalled the app, which takes a moment to end.
    const driverModule = new URL('../src/runtime/process/supervised-driver.ts', import.meta.url).href;
    const stopper = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { ProcessDriver } = await import(${JSON.stringify(driverModule)}); await new ProcessDriver({ stateDir: ${JSON.stringify(stateDir)}, isolation: 'bwrap' }).stop(${JSON.stringify(inst.id)}, 30);`], { stdio: 'ignore' });
    const marker = path.join(stateDir, 'instances', inst.id, 'stop.json');
    try {
      await waitFor(() => fs.existsSync(marker), 20_000, 'the stop begun');
    } finally {
      stopper.kill('SIGKILL');
    }
    const exited = await waitFor(async () => (await driver.list()).find((i) => i.id === inst.id && i.state === 'exited'), 20_000, 'the exit recorded');
    assert.equal(exited.reason, 'Stopped');
    assert.equal(exited.exitCode, 0, 'it ended on its own after the SIGTERM');
    await driver.remove(inst.id);
  });

  it('enforces the memory limit of an instance it adopted', async () => {
    const inst = await start(spec({}, 'exec node grow.js', { memoryMb: 100 }));
    await waitFor(() => answers(inst.endpoints[0].port), 20_000, 'answers');
    const [sup] = supervisors(stateDir);
    process.kill(sup, 'SIGKILL');
    await waitFor(() => supervisors(stateDir).length === 0, 10_000, 'the supervisor gone');
    await driver.list(); // finds a live instance without a supervisor: starts one, which adopts it
    await waitFor(() => supervisors(stateDir).length === 1, 20_000, 'a new supervisor');
    for (let i = 0; i < 6; i++) await answers(inst.endpoints[0].port, '/grow');
    const exited = await waitFor(async () => (await driver.list()).find((i) => i.id === inst.id && i.state === 'exited'), 20_000, 'the instance killed');
    assert.equal(exited.reason, 'OOMKilled');
    assert.ok((await logLines(driver, inst.id)).some((l) => l.includes('over its memory limit')));
    await driver.remove(inst.id);
  });
});
