/**
 * A RUNTIME STAND-IN for bench/scale.ts, not a runtime: an in-process RuntimeDriver whose "instances" are real
 * HTTP listeners in one helper process (instance-host.mjs), so a control plane can hold 10,000 instances on a
 * 2-core machine. Traffic, probes and HAProxy meet real sockets; nothing runs the release's command. It keeps
 * the driver contract's API-level behaviour (idempotent start per id, stop and remove idempotent, list read
 * from its own table, started/exited/removed events) and has no logs, exec or usage: it is never a value of
 * SLIPWAY_RUNTIME and only bench/ uses it. test/runtime-stand-in.test.ts runs the conformance suite on it,
 * with the process-level cases skipped and why.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstanceEvent, InstanceSpec, LogLine, ObservedInstance, RuntimeDriver } from '../../src/runtime/driver.ts';

const HOST_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'instance-host.mjs');

interface Reply {
  rid: number;
  error?: string;
  ports?: { name: string; internalPort: number; port: number }[];
  count?: number;
  rssBytes?: number;
}

export class StandInDriver implements RuntimeDriver {
  readonly name = 'stand-in (benchmark only)';
  private readonly host: ChildProcess;
  private readonly ready: Promise<void>;
  private readonly instances = new Map<string, ObservedInstance>();
  private readonly byService = new Map<string, Set<string>>();
  private readonly starting = new Map<string, Promise<ObservedInstance>>();
  private readonly listeners = new Set<(e: InstanceEvent) => void>();
  /** followed logs waiting for their instance to go, by instance id */
  private readonly gone = new Map<string, Set<() => void>>();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private rid = 0;

  /** `perServiceList: false` leaves `listService` out, so callers fall back to `list()` (the before/after of the benchmark). */
  constructor(private readonly opts: { perServiceList?: boolean } = {}) {
    this.host = fork(HOST_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.ready = new Promise((resolve, reject) => {
      this.host.once('error', reject);
      this.host.once('message', () => resolve());
    });
    this.host.on('message', (m: Reply) => {
      const w = this.waiting.get(m.rid);
      if (!w) return;
      this.waiting.delete(m.rid);
      w(m);
    });
    if (opts.perServiceList === false) (this as { listService?: unknown }).listService = undefined;
  }

  /** The instance host's pid (its memory is not the control plane's). */
  get hostPid(): number {
    return this.host.pid ?? 0;
  }

  private async call(msg: Record<string, unknown>): Promise<Reply> {
    await this.ready;
    const rid = ++this.rid;
    return new Promise((resolve, reject) => {
      this.waiting.set(rid, (r) => (r.error ? reject(new Error(r.error)) : resolve(r)));
      this.host.send({ ...msg, rid });
    });
  }

  async hostStats(): Promise<{ count: number; rssBytes: number }> {
    const r = await this.call({ op: 'stats' });
    return { count: r.count ?? 0, rssBytes: r.rssBytes ?? 0 };
  }

  start(spec: InstanceSpec): Promise<ObservedInstance> {
    const had = this.instances.get(spec.id);
    if (had && had.state !== 'exited') return Promise.resolve({ ...had });
    const pending = this.starting.get(spec.id);
    if (pending) return pending;
    const p = (async () => {
      const files = spec.files.map((f) => ({ path: f.path, base64: f.content.toString('base64') }));
      const r = await this.call({ op: 'start', id: spec.id, ports: spec.ports, env: spec.env, files });
      const inst: ObservedInstance = {
        id: spec.id,
        labels: { ...spec.labels },
        state: 'running',
        endpoints: (r.ports ?? []).map((e) => ({ name: e.name, internalPort: e.internalPort, host: '127.0.0.1', port: e.port })),
        pid: this.hostPid,
        startedAt: new Date().toISOString(),
      };
      this.instances.set(spec.id, inst);
      const key = `${spec.labels.project}/${spec.labels.service}`;
      this.byService.set(key, (this.byService.get(key) ?? new Set()).add(spec.id));
      this.emit({ type: 'started', instance: { ...inst } });
      return { ...inst };
    })().finally(() => this.starting.delete(spec.id));
    this.starting.set(spec.id, p);
    return p;
  }

  async stop(id: string, gracePeriodSeconds: number): Promise<void> {
    await this.starting.get(id)?.catch(() => undefined);
    const inst = this.instances.get(id);
    if (!inst) return;
    await this.call({ op: 'stop', id, graceMs: Math.min(gracePeriodSeconds, 1) * 1000 });
    this.forget(inst);
  }

  async remove(id: string): Promise<void> {
    const inst = this.instances.get(id);
    if (inst) this.forget(inst);
  }

  private forget(inst: ObservedInstance): void {
    this.instances.delete(inst.id);
    const key = `${inst.labels.project}/${inst.labels.service}`;
    const set = this.byService.get(key);
    set?.delete(inst.id);
    if (set && set.size === 0) this.byService.delete(key);
    this.emit({ type: 'removed', instance: { ...inst } });
    const waiting = this.gone.get(inst.id);
    this.gone.delete(inst.id);
    for (const w of waiting ?? []) w();
  }

  async list(): Promise<ObservedInstance[]> {
    return [...this.instances.values()].map((i) => ({ ...i }));
  }

  async listService(projectId: string, serviceId: string): Promise<ObservedInstance[]> {
    const ids = this.byService.get(`${projectId}/${serviceId}`);
    return ids ? [...ids].flatMap((id) => (this.instances.has(id) ? [{ ...this.instances.get(id)! }] : [])) : [];
  }

  watch(listener: (event: InstanceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: InstanceEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** No lines (the stand-in runs no program); a followed log stays open until the instance goes, as a runtime's does. */
  // eslint-disable-next-line require-yield
  async *logs(id: string, opts: { follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    if (!opts.follow || !this.instances.has(id) || opts.signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.gone.get(id)?.delete(done);
        resolve();
      };
      this.gone.set(id, (this.gone.get(id) ?? new Set()).add(done));
      opts.signal?.addEventListener('abort', done, { once: true });
    });
  }

  async exec(): Promise<{ exitCode: number; output: string }> {
    throw new Error('the runtime stand-in runs no commands (it has no process per instance)');
  }

  async usage(): Promise<undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.host.connected) this.host.disconnect();
  }
}
