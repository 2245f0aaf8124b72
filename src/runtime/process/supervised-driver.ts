/**
 * The `process` runtime driver: every instance is a process group under the state directory's one supervisor
 * (supervisor.mjs, started detached by the first driver that needs it, so it outlives the control plane; see
 * docs/runtimes.md). All state lives in files, so a new driver (or a new supervisor) over the same state
 * directory adopts what still runs:
 *
 *   <stateDir>/supervisor.json              the supervisor's pid; supervisor.sock its requests, supervisor.log its messages
 *   <stateDir>/instances/<id>/launch.json   argv, env, cwd (written by the driver before launch)
 *                            /meta.json     labels and port mapping
 *                            /state.json    the app's pid and start time (written by the supervisor)
 *                            /exit.json     how the app ended (written by the supervisor, or the driver without one)
 *                            /stop.json     a control plane has begun stopping it (its end is then no crash)
 *                            /stdout.raw, /stderr.raw   what the app writes, straight from its own file descriptors
 *                            /output.log    those lines as JSON { ts, stream, line }; collected.json: how far
 *                            /sandbox-status.json       bwrap's own report, with the exit code
 *                            /files/…       runtime files
 *   <stateDir>/logs/<id>.log                the output of removed instances
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { STOPPED, type InstanceEvent, type InstanceSpec, type LogLine, type ObservedInstance, type RuntimeDriver, type InstanceLabels } from '../driver.ts';
import { ValidationError } from '../../errors/errors.ts';
import { APP_DIR, bwrapArgs, fileTargetProblem } from './sandbox.ts';
import { execPlainCommand } from './exec-command.ts';
import { InstanceWatch, SingleFlight } from '../instance-watch.ts';
import { groupMembers, procTable } from './process-group.mjs';
import { alive, groupAlive, isSupervisorOf, sandboxedProcess, signalInstance, yieldCpu } from './instance-processes.ts';
import { parseLogLines } from '../log-lines.ts';
import { collectOutput, leaderAlive, loadOffsets, sandboxExitCode } from './supervisor-files.mjs';
import { SupervisorClient } from './supervisor-client.ts';
import { JsonFiles, readJson } from './json-files.ts';
import { allocateInstancePort } from '../instance-ports.ts';
import { SYSTEM_PATH } from '../../domain/system-path.ts';
const WATCH_INTERVAL_MS = 200;
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,200}$/;

interface Meta {
  labels: InstanceLabels;
  ports: { name: string; internalPort: number; port: number }[];
  memoryMb?: number;
  cpu?: number;
}

interface Launch {
  /** sandboxed: `bwrap --json-status-fd 3 …sandbox args… -- command` (the supervisor opens fd 3) */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** the sandbox prefix, reused by exec */
  sandbox: string[];
  /** the supervisor ends the app (SIGKILL, reason OOMKilled) when its processes' memory goes over this */
  memoryMb?: number;
}

interface State {
  /** the process group's leader (bwrap when sandboxed) */
  appPid: number;
  /** its start time in clock ticks since boot: a later process with the same pid is not it */
  appStart?: number;
  startedAt: string;
  /** an instance launched by a per-instance supervisor of an earlier version: that supervisor's pid */
  supervisorPid?: number;
}

interface Exit {
  code: number | null;
  signal: string | null;
  at: string;
  /** `OOMKilled` when the supervisor ended the app for going over its memory limit */
  reason?: string;
}

export interface ProcessDriverOptions {
  stateDir: string;
  isolation: 'bwrap' | 'none';
  /** end an instance whose resident memory goes over its plan's (default true) */
  enforceMemory?: boolean;
  logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

type ExitFields = Pick<ObservedInstance, 'exitedAt' | 'exitCode' | 'signal'>;

/**
 * An instance that has ended. Its reason is the one its exit recorded (an end the runtime caused: over the
 * memory limit); else STOPPED when a control plane had begun its stop (stop.json), so the end is no crash.
 */
function exitedInstance(dir: string, base: Omit<ObservedInstance, 'state'>, e: ExitFields, recorded?: string): ObservedInstance {
  const reason = recorded ?? (fs.existsSync(path.join(dir, 'stop.json')) ? STOPPED : undefined);
  return { ...base, ...e, state: 'exited', ...(reason ? { reason } : {}) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ProcessDriver implements RuntimeDriver {
  readonly name = 'process';
  private readonly instancesDir: string;
  private readonly logsDir: string;
  private readonly starting = new SingleFlight<ObservedInstance>();
  private readonly watcher = new InstanceWatch(() => this.list(), WATCH_INTERVAL_MS);
  private readonly cpuSamples = new Map<string, { ticks: number; at: number; cpuPercent: number }>();
  private readonly supervisor: SupervisorClient;
  /** meta.json, state.json, exit.json and launch.json of each instance, parsed again only when changed */
  private readonly files = new JsonFiles();

  constructor(private readonly opts: ProcessDriverOptions) {
    fs.mkdirSync(path.join(opts.stateDir, 'instances'), { recursive: true });
    // One spelling of the directory for every driver, so each finds the same supervisor.
    const stateDir = fs.realpathSync(opts.stateDir);
    this.instancesDir = path.join(stateDir, 'instances');
    this.logsDir = path.join(stateDir, 'logs');
    fs.mkdirSync(this.logsDir, { recursive: true });
    this.supervisor = new SupervisorClient(stateDir);
  }

  private dir(id: string): string {
    if (!ID_PATTERN.test(id)) throw ValidationError.one('instance.id', 'pattern', `invalid instance id '${id}'`);
    return path.join(this.instancesDir, id);
  }

  start(spec: InstanceSpec): Promise<ObservedInstance> {
    // Concurrent starts of one id share one launch: never two processes for one instance.
    return this.starting.run(spec.id, () => this.launch(spec));
  }

  private async launch(spec: InstanceSpec): Promise<ObservedInstance> {
    const dir = this.dir(spec.id);
    const existing = this.observe(spec.id);
    if (existing && existing.state !== 'exited') return existing;
    if (existing) await this.remove(spec.id);

    for (const f of spec.files) {
      const problem = this.opts.isolation === 'bwrap' ? fileTargetProblem(f.path) : !f.path.startsWith('/') || f.path.includes('..') ? `invalid runtime file path '${f.path}'` : undefined;
      if (problem) throw ValidationError.one('runtimeFiles', 'absolutePath', problem);
    }
    for (const v of spec.volumes ?? []) {
      if (!path.isAbsolute(v.hostPath) || !path.isAbsolute(v.mountPath) || v.mountPath.split('/').includes('..')) throw ValidationError.one('volumes', 'absolutePath', `volume paths must be absolute: '${v.hostPath}' at '${v.mountPath}'`);
    }
    fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
    const files = spec.files.map((f, i) => {
      // Each file gets its own host path; the sandbox binds it at its absolute target.
      const hostPath = path.join(dir, 'files', `${i}-${path.basename(f.path)}`);
      fs.writeFileSync(hostPath, f.content, { mode: 0o444 });
      return { hostPath, target: f.path };
    });

    const ports: Meta['ports'] = [];
    for (const p of spec.ports) ports.push({ name: p.name, internalPort: p.internalPort, port: await allocateInstancePort() });
    const env: Record<string, string> = {
      PATH: `${APP_DIR}/node_modules/.bin:${SYSTEM_PATH}`,
      HOME: '/tmp',
      NODE_ENV: 'production',
      ...spec.env,
    };
    if (ports[0]) env.PORT = String(ports[0].port);
    for (const p of ports) env[`PORT_${p.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(p.port);

    let sandbox: string[] = [];
    let cwd: string;
    if (this.opts.isolation === 'bwrap') {
      sandbox = bwrapArgs({ artifactDir: spec.artifactDir, workDir: spec.workDir ?? APP_DIR, files, volumes: spec.volumes });
      if (spec.volumes?.[0]) env.SLIPWAY_VOLUME_DIR = spec.volumes[0].mountPath;
      cwd = '/';
    } else {
      // Without a sandbox absolute paths cannot be honoured: the files stay in the instance directory and
      // SLIPWAY_FILES_DIR says where (a file for /dir/name is at $SLIPWAY_FILES_DIR/dir/name).
      const filesRoot = path.join(dir, 'root');
      for (const f of files) {
        const target = path.join(filesRoot, f.target);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(f.hostPath, target);
      }
      env.SLIPWAY_FILES_DIR = filesRoot;
      // Nor can a volume's mount path be: the app finds the first volume's directory in SLIPWAY_VOLUME_DIR,
      // and each at $SLIPWAY_FILES_DIR/<mount path> (a symbolic link to the directory).
      for (const v of spec.volumes ?? []) {
        const link = path.join(filesRoot, v.mountPath);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.rmSync(link, { recursive: true, force: true });
        fs.symlinkSync(v.hostPath, link);
      }
      if (spec.volumes?.[0]) env.SLIPWAY_VOLUME_DIR = spec.volumes[0].hostPath;
      env.PATH = `${spec.artifactDir ?? ''}/node_modules/.bin:${SYSTEM_PATH}`;
      cwd = spec.workDir ?? spec.artifactDir ?? dir;
    }
    // bwrap reports the app's exit code on fd 3 (a file the supervisor opens): it outlives the supervisor.
    const command = execPlainCommand(spec.command);
    const argv = sandbox.length ? [sandbox[0]!, '--json-status-fd', '3', ...sandbox.slice(1), ...command] : command;
    const launch: Launch = { argv, cwd, env, sandbox, ...(spec.memoryMb && this.opts.enforceMemory !== false ? { memoryMb: spec.memoryMb } : {}) };
    const meta: Meta = { labels: spec.labels, ports, memoryMb: spec.memoryMb, cpu: spec.cpu };
    // meta.json claims the instance: written only if absent, and first (it is what `observe` goes by). Another
    // control plane may have launched this id since the look above (this one was paused mid-launch, having lost
    // its lease, and the new holder launched it meanwhile): its instance is the one, with its ports; writing
    // over them would leave the runtime reporting ports nothing listens on.
    try {
      fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return this.launched(spec.id);
    }
    fs.writeFileSync(path.join(dir, 'launch.json'), JSON.stringify(launch), { mode: 0o600 });
    await this.supervisor.start(spec.id);
    return this.launched(spec.id);
  }

  /** The instance once it runs (it has a pid) or has ended, waiting up to 10 s. */
  private async launched(id: string): Promise<ObservedInstance> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const obs = this.observe(id);
      if (obs && (obs.pid || obs.state === 'exited')) {
        this.watcher.observe(obs);
        return obs;
      }
      await sleep(5);
    }
    throw new Error(`instance ${id} did not start within 10 s`);
  }

  /** Read one instance's state from its directory; undefined if it has none. */
  private observe(id: string): ObservedInstance | undefined {
    const dir = path.join(this.instancesDir, id);
    const meta = this.files.read<Meta>(path.join(dir, 'meta.json'));
    if (!meta) return undefined;
    const state = this.files.read<State>(path.join(dir, 'state.json'));
    const exit = this.files.read<Exit>(path.join(dir, 'exit.json'));
    const endpoints = meta.ports.map((p) => ({ name: p.name, internalPort: p.internalPort, host: '127.0.0.1', port: p.port }));
    const base = { id, labels: meta.labels, endpoints, pid: state?.appPid, startedAt: state?.startedAt };
    if (exit) return exitedInstance(dir, base, { exitedAt: exit.at, exitCode: exit.code, signal: exit.signal }, exit.reason);
    if (!state) {
      // Launched moments ago and the supervisor has not written its state yet, or it died before that.
      const launched = fs.statSync(path.join(dir, 'meta.json')).mtimeMs;
      return Date.now() - launched < 10_000 ? { ...base, state: 'starting' } : exitedInstance(dir, base, { exitCode: null, signal: null });
    }
    if (state.supervisorPid) {
      // Launched by an earlier version's per-instance supervisor, which records the exit itself.
      if (alive(state.supervisorPid) && isSupervisorOf(state.supervisorPid, dir)) return { ...base, state: 'running' };
      return groupAlive(state.appPid) ? { ...base, state: 'running' } : exitedInstance(dir, base, { exitCode: null, signal: 'SIGKILL' });
    }
    // A running supervisor records the app's end (exit.json, read above) within a tick of it (after the last
    // output): until then the instance counts as running, so the exit is reported once, with its code. Only
    // without one is the app itself looked for.
    if (this.supervisor.runningPid() || leaderAlive(state.appPid, state.appStart)) return { ...base, state: 'running' };
    // No supervisor: bwrap's own report has the exit code; without a sandbox it is unknown.
    const code = this.isSandboxed(dir) ? sandboxExitCode(dir) : undefined;
    return exitedInstance(dir, base, { exitCode: code ?? null, signal: code === undefined ? 'SIGKILL' : null });
  }

  private isSandboxed(dir: string): boolean {
    return (this.files.read<Launch>(path.join(dir, 'launch.json'))?.sandbox.length ?? 0) > 0;
  }

  async list(): Promise<ObservedInstance[]> {
    const ids = fs.readdirSync(this.instancesDir);
    // What is kept of directories gone (removed here, or by another control plane sharing the runtime) goes.
    this.files.retainDirs(new Set(ids.map((id) => path.join(this.instancesDir, id))));
    return this.observeAll(ids);
  }

  /**
   * One service's instances: only the directories whose name starts as the service controller names its
   * instances (`<project>--<service>--…`), their labels checked (ids are not parsed: names may hold `--`).
   * A pass over one service reads its own few state files instead of every instance's on the machine.
   */
  async listService(projectId: string, serviceId: string): Promise<ObservedInstance[]> {
    const prefix = `${projectId}--${serviceId}--`;
    const ids = fs.readdirSync(this.instancesDir).filter((id) => id.startsWith(prefix));
    return (await this.observeAll(ids)).filter((i) => i.labels.project === projectId && i.labels.service === serviceId);
  }

  private async observeAll(ids: string[]): Promise<ObservedInstance[]> {
    const out: ObservedInstance[] = [];
    let live = false;
    for (const id of ids) {
      const obs = this.observe(id);
      if (obs) out.push(obs);
      if (obs && obs.state !== 'exited') live = true;
    }
    // Instances running with no supervisor (it died): start one, which adopts them (their output, memory
    // limits and exits).
    if (live) this.supervisor.ensureRunning();
    return out;
  }

  async stop(id: string, gracePeriodSeconds: number): Promise<void> {
    const dir = this.dir(id);
    const state = readJson<State>(path.join(dir, 'state.json'));
    if (state) {
      const sandboxed = this.isSandboxed(dir);
      const signalGroup = (sig: NodeJS.Signals, members?: ReturnType<typeof groupMembers>) => signalInstance(state.appPid, sig, sandboxed, members);
      // Written before the signal: if this control plane dies before the instance is gone, the one that
      // takes over sees an instance that was stopped, not one that crashed.
      fs.writeFileSync(path.join(dir, 'stop.json'), JSON.stringify({ at: new Date().toISOString() }));
      const members = groupMembers(state.appPid);
      yieldCpu(state.appPid, members);
      signalGroup('SIGTERM', members);
      const deadline = Date.now() + gracePeriodSeconds * 1000;
      // The supervisor says when the app has ended (its exit is an event there: waitpid); /proc is looked at
      // only when no supervisor can say (one of an earlier version, or none running), and without a sandbox.
      // A sandbox whose end is recorded is gone: the supervisor has killed its group, and its PID namespace
      // died with its init (what /proc may still list of it are zombies: an init orphaned by bwrap, which a
      // pid 1 that does not reap keeps, each costing a scan of /proc per look).
      let told = state.supervisorPid ? undefined : await this.supervisor.waitExit(id, deadline - Date.now());
      const running = () => !(told === true && sandboxed) && groupAlive(state.appPid);
      while (running() && Date.now() < deadline) await sleep(20);
      if (running()) {
        signalGroup('SIGKILL');
        if (!state.supervisorPid) told = await this.supervisor.waitExit(id, 2000);
      }
      if (state.supervisorPid) {
        // An earlier version's per-instance supervisor exits once it has recorded the exit; make sure.
        const supDeadline = Date.now() + 2000;
        while (alive(state.supervisorPid) && isSupervisorOf(state.supervisorPid, dir) && Date.now() < supDeadline) await sleep(10);
        if (alive(state.supervisorPid) && isSupervisorOf(state.supervisorPid, dir)) {
          try {
            process.kill(state.supervisorPid, 'SIGKILL');
          } catch {}
        }
      }
      while (running()) await sleep(10);
    }
    await this.remove(id);
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    if (!fs.existsSync(dir)) return;
    const state = readJson<State>(path.join(dir, 'state.json'));
    const exitFile = path.join(dir, 'exit.json');
    if (!fs.existsSync(exitFile)) {
      const obs = this.observe(id);
      const running = state ? (state.supervisorPid ? obs?.state !== 'exited' : leaderAlive(state.appPid, state.appStart)) : obs?.state === 'starting';
      if (running) throw new Error(`instance ${id} still runs: stop it first`);
      // A sandbox whose bwrap died alone while no supervisor ran lives on orphaned: end it with its instance.
      if (state && this.isSandboxed(dir) && groupAlive(state.appPid)) signalInstance(state.appPid, 'SIGKILL', true);
      // The supervisor records the exit after the app's last output: wait for it a moment, and without one
      // collect that output here.
      const deadline = Date.now() + 3000;
      while (!fs.existsSync(exitFile) && this.supervisor.runningPid() && Date.now() < deadline) await sleep(10);
      if (!fs.existsSync(exitFile)) collectOutput(dir, loadOffsets(dir), true);
    }
    const obs = this.observe(id);
    const log = path.join(dir, 'output.log');
    if (fs.existsSync(log)) {
      const kept = path.join(this.logsDir, `${id}.log`);
      fs.appendFileSync(kept, fs.readFileSync(log));
    }
    fs.rmSync(dir, { recursive: true, force: true });
    this.files.forgetDir(dir);
    this.watcher.forget(id, obs);
  }

  watch(listener: (event: InstanceEvent) => void): () => void {
    return this.watcher.subscribe(listener);
  }

  async *logs(id: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    const live = path.join(this.instancesDir, id, 'output.log');
    const file = fs.existsSync(live) ? live : path.join(this.logsDir, `${id}.log`);
    if (!fs.existsSync(file)) return;
    const parse = (text: string): LogLine[] => parseLogLines(id, text);
    let offset = 0;
    const readNew = (): string => {
      const size = fs.statSync(file).size;
      if (size <= offset) return '';
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        const text = buf.toString('utf8');
        const complete = text.lastIndexOf('\n') + 1;
        offset += Buffer.byteLength(text.slice(0, complete));
        return text.slice(0, complete);
      } finally {
        fs.closeSync(fd);
      }
    };
    const first = parse(readNew());
    yield* opts.tail !== undefined ? first.slice(-opts.tail) : first;
    while (opts.follow && !opts.signal?.aborted && fs.existsSync(file)) {
      await sleep(100);
      if (!fs.existsSync(file)) break;
      yield* parse(readNew());
    }
  }

  async exec(id: string, command: string[], opts: { timeoutMs?: number } = {}): Promise<{ exitCode: number; output: string }> {
    const dir = this.dir(id);
    const launch = readJson<Launch>(path.join(dir, 'launch.json'));
    if (!launch) throw new Error(`instance ${id} not found`);
    // A sandboxed instance has its own /tmp, mounts and PIDs: run the command inside them (nsenter into
    // the sandbox's first process), so a CMD probe sees exactly what the app sees.
    let inside: number | undefined;
    if (launch.sandbox.length) {
      // Just after a start the sandbox may still be setting up: give it a moment to run the app.
      const deadline = Date.now() + 2000;
      while ((inside = sandboxedProcess(readJson<State>(path.join(dir, 'state.json'))?.appPid)) === undefined && Date.now() < deadline) await sleep(20);
    }
    const argv = inside ? ['nsenter', '-t', String(inside), '-m', '-u', '-i', '-p', '-w', '--', ...command] : [...launch.sandbox, ...command];
    return new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const take = (c: Buffer) => {
        if (output.length < 64 * 1024) output += c.toString('utf8');
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
      }, opts.timeoutMs ?? 10_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ exitCode: 127, output: err.message });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ exitCode: code ?? (signal ? 128 : 1), output: output.slice(0, 64 * 1024) });
      });
    });
  }

  async usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined> {
    const state = readJson<State>(path.join(this.instancesDir, id, 'state.json'));
    if (!state || !alive(state.appPid)) return undefined;
    // Sum over the app's process tree: its process group (the sandbox and everything it started) and any
    // descendant that left the group (setsid, a daemonizing server), found through parent pids. Children's
    // reaped time (cutime, cstime) counts too, so work done by short-lived children is not lost.
    let table = procTable();
    // A reading taken before this instance started knows nothing of it.
    if (!table.procs.has(state.appPid)) table = procTable(true);
    const { at: now, procs } = table;
    const inTree = new Map<number, boolean>();
    const member = (pid: number, depth = 0): boolean => {
      const known = inTree.get(pid);
      if (known !== undefined) return known;
      const p = procs.get(pid);
      const yes = !!p && (pid === state.appPid || p.pgrp === state.appPid || (depth < 64 && p.ppid > 1 && member(p.ppid, depth + 1)));
      inTree.set(pid, yes);
      return yes;
    };
    let ticks = 0;
    let rssPages = 0;
    for (const [pid, p] of procs) {
      if (!member(pid)) continue;
      ticks += p.ticks;
      rssPages += p.rssPages;
    }
    const prev = this.cpuSamples.get(id);
    // Asked again from the same reading of /proc: the same answer (no interval to measure over).
    if (prev && prev.at === now) return { cpuPercent: prev.cpuPercent, memoryBytes: rssPages * 4096 };
    const cpuPercent = Math.max(0, prev && now > prev.at ? (((ticks - prev.ticks) / 100) * 1000 * 100) / (now - prev.at) : 0);
    this.cpuSamples.set(id, { ticks, at: now, cpuPercent });
    return { cpuPercent, memoryBytes: rssPages * 4096 };
  }

  async close(): Promise<void> {
    this.watcher.close();
    this.supervisor.close();
  }
}
