// The instance supervisor: one per instance, detached from the control plane so instances outlive it.
// It runs the app in its own process group, writes each output line with a timestamp to output.log,
// records the app's pid in state.json and, when the app exits, its exit in exit.json, then exits too.
// It never restarts the app: restarts with back-off are the controller's decision.
// Plain JavaScript on purpose: it starts with bare `node`, fast, with no loader.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { groupMembers, stopTargets } from './process-group.mjs';

const dir = process.argv[2];
const spec = JSON.parse(fs.readFileSync(path.join(dir, 'launch.json'), 'utf8'));
const log = fs.openSync(path.join(dir, 'output.log'), 'a');

function writeLine(stream, line) {
  fs.writeSync(log, JSON.stringify({ ts: new Date().toISOString(), stream, line }) + '\n');
}

function pipeLines(readable, stream) {
  let rest = '';
  readable.setEncoding('utf8');
  readable.on('data', (chunk) => {
    rest += chunk;
    let i;
    while ((i = rest.indexOf('\n')) >= 0) {
      writeLine(stream, rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
    // Bound a line without a newline so one chatty write cannot grow memory without limit.
    if (rest.length > 64 * 1024) {
      writeLine(stream, rest);
      rest = '';
    }
  });
  readable.on('end', () => {
    if (rest) writeLine(stream, rest);
  });
}

const child = spawn(spec.argv[0], spec.argv.slice(1), {
  cwd: spec.cwd,
  env: spec.env,
  detached: true, // own process group: a stop signals the whole group
  stdio: ['ignore', 'pipe', 'pipe'],
});
pipeLines(child.stdout, 'stdout');
pipeLines(child.stderr, 'stderr');

child.on('error', (err) => {
  writeLine('stderr', `slipway: could not start: ${err.message}`);
  fs.writeFileSync(path.join(dir, 'exit.json'), JSON.stringify({ code: 127, signal: null, at: new Date().toISOString(), error: err.message }));
  process.exit(0);
});

if (child.pid) {
  const state = { supervisorPid: process.pid, appPid: child.pid, startedAt: new Date().toISOString() };
  fs.writeFileSync(path.join(dir, 'state.json.tmp'), JSON.stringify(state));
  fs.renameSync(path.join(dir, 'state.json.tmp'), path.join(dir, 'state.json'));
}

// Forward a stop signal to the app; in a sandbox only to the members `stopTargets` names (see there why).
function forward(sig) {
  if (!spec.sandbox?.length) {
    try {
      process.kill(-child.pid, sig);
    } catch {}
    return;
  }
  for (const m of stopTargets(groupMembers(child.pid))) {
    try {
      process.kill(m.pid, sig);
    } catch {}
  }
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => forward(sig));

// Memory limit: the resident memory of every process in the app's group, checked each second; over the
// limit the group is killed and the exit recorded as OOMKilled (the controller restarts it with back-off).
let exitReason;
if (spec.memoryMb && child.pid) {
  const limit = spec.memoryMb * 1024 * 1024;
  const page = 4096;
  const timer = setInterval(() => {
    let rss = 0;
    for (const pid of fs.readdirSync('/proc')) {
      if (pid.charCodeAt(0) > 57) continue;
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) !== child.pid) continue;
        rss += Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * page;
      } catch {}
    }
    if (rss > limit) {
      exitReason = 'OOMKilled';
      writeLine('stderr', `slipway: instance over its memory limit (${Math.round(rss / 1048576)} MB > ${spec.memoryMb} MB): killed`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      clearInterval(timer);
    }
  }, 1000);
  timer.unref();
}

let recorded = false;
function recordExit(code, signal) {
  if (recorded) return;
  recorded = true;
  fs.writeFileSync(path.join(dir, 'exit.json.tmp'), JSON.stringify({ code, signal, at: new Date().toISOString(), ...(exitReason ? { reason: exitReason } : {}) }));
  fs.renameSync(path.join(dir, 'exit.json.tmp'), path.join(dir, 'exit.json'));
  process.exit(0);
}
// 'close' comes once the app's output pipes are drained, so its last lines are in the log. A process the
// app left behind may hold the pipes open: then record the exit after a bounded wait.
child.on('close', (code, signal) => recordExit(code, signal));
child.on('exit', (code, signal) => setTimeout(() => recordExit(code, signal), 2000).unref());
