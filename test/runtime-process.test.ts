/**
 * The process driver against the shared conformance suite, sandboxed (bubblewrap) and plain; and a real
 * control-plane death: a separate process starts an instance and is killed with SIGKILL, and the instance
 * keeps serving and is adopted.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDriverConformance, writeConformanceApp } from '../src/runtime/conformance.ts';
import { ProcessDriver } from '../src/runtime/process/supervised-driver.ts';
import { ROOT } from './support/platform.ts';

const artifactDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-conf-app-'));
writeConformanceApp(artifactDir);

try {
  execFileSync('bwrap', ['--version']);
} catch {
  throw new Error('bubblewrap is missing: install the Debian package bubblewrap');
}

runDriverConformance('process (bwrap)', (stateDir) => new ProcessDriver({ stateDir, isolation: 'bwrap' }), { artifactDir });
runDriverConformance('process (no isolation)', (stateDir) => new ProcessDriver({ stateDir, isolation: 'none' }), {
  artifactDir,
  skip: { 'places runtime files at their absolute paths': 'without a sandbox absolute paths cannot be honoured; files are under $SLIPWAY_FILES_DIR' },
});

it('lets an app started by a shell that does not exec it finish its SIGTERM handler in the sandbox', async () => {
  // `sh -c 'node app.js'`, as a Procfile line runs: dash stays the app's parent. Were the shell signalled too, it
  // would die at once, bwrap would follow it out and the PID namespace would end the app mid-handler.
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-shell-stop-'));
  const driver = new ProcessDriver({ stateDir, isolation: 'bwrap' });
  try {
    for (let round = 0; round < 3; round++) {
      const id = `sh--svc--web-r1-${round}-${process.pid.toString(16)}`;
      const inst = await driver.start({ id, labels: { project: 'sh', service: 'svc', release: 'r1', processType: 'web' }, artifactDir, command: ['/bin/sh', '-c', 'node app.js'], env: { BYE_AFTER_MS: '300' }, files: [], ports: [{ name: 'p01', internalPort: 8080 }] });
      const port = inst.endpoints[0]!.port;
      for (let i = 0; ; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false);
        if (ok) break;
        if (i > 400) throw new Error('the app never answered');
        await new Promise((r) => setTimeout(r, 50));
      }
      await driver.stop(inst.id, 10);
      const lines: string[] = [];
      for await (const l of driver.logs(inst.id, { tail: 20 })) lines.push(l.line);
      assert.ok(lines.includes('bye after cleanup'), `round ${round}: the handler finished: ${JSON.stringify(lines)}`);
    }
  } finally {
    await driver.close?.();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it('stops an instance at the lowest CPU priority: its shutdown yields the CPU to the instances that replace it', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-stop-nice-'));
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-stop-nice-app-'));
  // The app reports its own priority and its session's autogroup as it handles SIGTERM, and once before.
  fs.writeFileSync(
    path.join(appDir, 'nice.js'),
    `const os = require('os'), fs = require('fs');
const report = (when) => { let group = ''; try { group = fs.readFileSync('/proc/self/autogroup', 'utf8').trim(); } catch {} console.log(when + ' nice ' + os.getPriority() + ' ' + group); };
report('running');
process.on('SIGTERM', () => { report('stopping'); process.exit(0); });
require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  const driver = new ProcessDriver({ stateDir, isolation: 'bwrap' });
  try {
    const inst = await driver.start({ id: `nice--svc--web-r1-0-${process.pid.toString(16)}`, labels: { project: 'nice', service: 'svc', release: 'r1', processType: 'web' }, artifactDir: appDir, command: ['node', 'nice.js'], env: {}, files: [], ports: [{ name: 'p01', internalPort: 8080 }] });
    for (let i = 0; !(await fetch(`http://127.0.0.1:${inst.endpoints[0]!.port}/`).then((r) => r.ok, () => false)); i++) {
      if (i > 400) throw new Error('the app never answered');
      await new Promise((r) => setTimeout(r, 50));
    }
    await driver.stop(inst.id, 10);
    const lines: string[] = [];
    for await (const l of driver.logs(inst.id, { tail: 20 })) lines.push(l.line);
    const running = lines.find((l) => l.startsWith('running nice '));
    const stopping = lines.find((l) => l.startsWith('stopping nice '));
    assert.match(running ?? '', /^running nice 0\b/, JSON.stringify(lines));
    assert.match(stopping ?? '', /^stopping nice 19\b/, JSON.stringify(lines));
    // Where the kernel groups sessions (autogroups), the instance's group is at the lowest priority too.
    if (fs.existsSync('/proc/self/autogroup')) assert.match(stopping!, /autogroup-\d+ nice 19$/, JSON.stringify(lines));
  } finally {
    await driver.close?.();
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(appDir, { recursive: true, force: true });
  }
});

it('keeps an instance running when its control plane is killed with SIGKILL, and a new driver adopts it', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-kill9-'));
  const script = `
    import { ProcessDriver } from ${JSON.stringify(path.join(ROOT, 'src/runtime/process/supervised-driver.ts'))};
    const d = new ProcessDriver({ stateDir: ${JSON.stringify(stateDir)}, isolation: 'bwrap' });
    const i = await d.start({ id: 'k9--svc--web-r1-0-aaaaaa', labels: { project: 'k9', service: 'svc', release: 'r1', processType: 'web' }, artifactDir: ${JSON.stringify(artifactDir)}, command: ['/bin/sh', '-c', 'exec node app.js'], env: {}, files: [], ports: [{ name: 'p01', internalPort: 8080 }] });
    console.log(JSON.stringify(i));
    setInterval(() => {}, 1000);
  `;
  const file = path.join(stateDir, 'control-plane.mts');
  fs.writeFileSync(file, script);
  const cp = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const inst = await new Promise<{ id: string; pid: number; endpoints: { port: number }[] }>((resolve, reject) => {
    let out = '';
    cp.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    cp.once('exit', (code) => reject(new Error(`control plane exited early (${code})`)));
  });
  cp.kill('SIGKILL');
  await new Promise((r) => cp.once('exit', r));

  const port = inst.endpoints[0].port;
  let answered = false;
  for (let i = 0; i < 100 && !answered; i++) {
    answered = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok).catch(() => false);
    if (!answered) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(answered, 'the instance still answers after its control plane died');

  const driver = new ProcessDriver({ stateDir, isolation: 'bwrap' });
  const adopted = (await driver.list()).find((i) => i.id === inst.id);
  assert.equal(adopted?.state, 'running');
  assert.equal(adopted?.pid, inst.pid);
  await driver.stop(inst.id, 2);
  let gone = false;
  try {
    process.kill(inst.pid, 0);
  } catch {
    gone = true;
  }
  assert.ok(gone, 'no orphan left after stop');
  await driver.close();
  fs.rmSync(stateDir, { recursive: true, force: true });
});
