/**
 * Runs each instance's probes on their schedule and keeps per-instance probe state. Kubernetes semantics:
 * a startup probe holds readiness and liveness until it passes; readiness gates traffic; liveness failing
 * `failureThreshold` times in a row marks the instance for replacement. With no readiness probe an instance
 * is ready once its first port accepts connections (or, with no port, after a short settle time).
 * State is in memory on purpose: after a control-plane restart every instance is probed afresh.
 *
 * On a runtime that runs the checks itself (`runtimeReadiness`, the kubernetes runtime's Pod probes) nothing
 * is probed from here: the verdict the runtime reports is polled and kept in the same state, and a liveness or
 * startup failure shows as the instance exiting (the runtime kills it), not as `unhealthy`.
 */
import type { HealthCheckSpec } from '../domain/service.ts';
import { checkHttp, checkTcp, type CheckResult } from './check.ts';

export type ProbeKind = 'startupProbe' | 'readinessProbe' | 'livenessProbe';

export interface ProbeStatus {
  passing: boolean;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastError?: string;
}

export interface InstanceProbeState {
  started: boolean;
  ready: boolean;
  /** epoch ms when the instance last became ready */
  readySince?: number;
  /** liveness failed past its threshold: the controller replaces the instance */
  unhealthy: boolean;
  probes: Partial<Record<ProbeKind, ProbeStatus>>;
}

export interface ProbeTarget {
  instanceId: string;
  /** owner key enqueued on every transition */
  ownerKey: string;
  /** host/port per internal port number */
  endpoints: { internalPort: number; host: string; port: number }[];
  checks: HealthCheckSpec[];
}

export type CmdRunner = (instanceId: string, cmd: string, timeoutMs: number) => Promise<CheckResult>;
/** The runtime's own verdict on an instance (RuntimeDriver.readiness). */
export type RuntimeReadiness = (instanceId: string) => Promise<{ started: boolean; ready: boolean; message?: string } | undefined>;

interface Tracked {
  target: ProbeTarget;
  state: InstanceProbeState;
  /** the pending timer per probe (latest only: older ones have fired) */
  timers: Map<string, NodeJS.Timeout>;
  stopped: boolean;
}

/**
 * The default readiness check polls the port with a connect (a refused one costs tens of microseconds). The
 * wait between attempts is a twentieth of the time waited so far, from 2 ms up to 100 ms, so seeing the
 * port open adds at most 5 % (and ~1 ms on average to a fast start) to an instance's own start time: an app
 * that listens after 30 ms is seen within 2 ms, one after 400 ms within ~20 ms, one that takes a minute within
 * 100 ms, in ~60 + 10/s attempts.
 */
const DEFAULT_READY_POLL_MIN_MS = 2;
const DEFAULT_READY_POLL_MAX_MS = 100;
const DEFAULT_READY_POLL_SHARE = 0.05;
const NO_PORT_SETTLE_MS = 1000;
/** How often the runtime's verdict is read when the runtime runs the checks. */
const RUNTIME_READINESS_POLL_MS = 500;

export class ProbeScheduler {
  private readonly tracked = new Map<string, Tracked>();
  /** instance ids by owner key: a pass over one owner looks at its own instances, not every tracked one */
  private readonly byOwner = new Map<string, Set<string>>();

  constructor(
    private readonly opts: { timeScale: number; runCmd: CmdRunner; onTransition: (ownerKey: string, instanceId: string) => void; runtimeReadiness?: RuntimeReadiness },
  ) {}

  /** Begin probing an instance. Idempotent: tracking an already-tracked id changes nothing. */
  track(target: ProbeTarget): void {
    if (this.tracked.has(target.instanceId)) return;
    const startup = target.checks.find((c) => c.type === 'startupProbe');
    const t: Tracked = { target, state: { started: !startup, ready: false, unhealthy: false, probes: {} }, timers: new Map(), stopped: false };
    this.tracked.set(target.instanceId, t);
    this.byOwner.set(target.ownerKey, (this.byOwner.get(target.ownerKey) ?? new Set()).add(target.instanceId));
    if (this.opts.runtimeReadiness) this.followRuntime(t, this.opts.runtimeReadiness);
    else if (startup) this.schedule(t, startup);
    else this.afterStartup(t);
  }

  untrack(instanceId: string): void {
    const t = this.tracked.get(instanceId);
    if (!t) return;
    t.stopped = true;
    for (const timer of t.timers.values()) clearTimeout(timer);
    this.tracked.delete(instanceId);
    const owned = this.byOwner.get(t.target.ownerKey);
    owned?.delete(instanceId);
    if (owned?.size === 0) this.byOwner.delete(t.target.ownerKey);
  }

  state(instanceId: string): InstanceProbeState | undefined {
    return this.tracked.get(instanceId)?.state;
  }

  /** The target an instance is probed with (endpoints may differ when an id is reused by a new process). */
  targetOf(instanceId: string): ProbeTarget | undefined {
    return this.tracked.get(instanceId)?.target;
  }

  /** Stop probing every instance of an owner that is no longer present. */
  untrackMissing(ownerKey: string, present: Set<string>): void {
    for (const id of [...(this.byOwner.get(ownerKey) ?? [])]) if (!present.has(id)) this.untrack(id);
  }

  stop(): void {
    for (const id of [...this.tracked.keys()]) this.untrack(id);
  }

  private afterStartup(t: Tracked): void {
    const readiness = t.target.checks.find((c) => c.type === 'readinessProbe');
    const liveness = t.target.checks.find((c) => c.type === 'livenessProbe');
    if (readiness) this.schedule(t, readiness);
    else this.defaultReadiness(t);
    if (liveness) this.schedule(t, liveness);
  }

  /** The runtime runs the checks: read its verdict until the instance is untracked. */
  private followRuntime(t: Tracked, read: RuntimeReadiness): void {
    const status: ProbeStatus = { passing: false, consecutiveFailures: 0, consecutiveSuccesses: 0 };
    t.state.probes.readinessProbe = status;
    const tick = async () => {
      if (t.stopped) return;
      let seen: Awaited<ReturnType<RuntimeReadiness>>;
      try {
        seen = await read(t.target.instanceId);
      } catch (err) {
        seen = undefined;
        status.lastError = (err as Error).message;
      }
      if (t.stopped) return;
      if (seen) {
        const now = new Date().toISOString();
        const changed = seen.ready !== t.state.ready || seen.started !== t.state.started;
        t.state.started = seen.started;
        if (seen.ready) {
          status.consecutiveSuccesses++;
          status.consecutiveFailures = 0;
          status.lastSuccessAt = now;
          if (!t.state.ready) t.state.readySince = Date.now();
        } else if (seen.started) {
          status.consecutiveFailures++;
          status.consecutiveSuccesses = 0;
          status.lastFailureAt = now;
          if (seen.message) status.lastError = seen.message;
        }
        status.passing = seen.ready;
        t.state.ready = seen.ready;
        if (changed) this.transition(t);
      }
      const timer = setTimeout(tick, RUNTIME_READINESS_POLL_MS);
      timer.unref();
      t.timers.set('runtime', timer);
    };
    void tick();
  }

  private transition(t: Tracked): void {
    this.opts.onTransition(t.target.ownerKey, t.target.instanceId);
  }

  /** No readiness probe: ready once the first port accepts a connection, polled quickly. */
  private defaultReadiness(t: Tracked): void {
    const ep = t.target.endpoints[0];
    if (!ep) {
      const timer = setTimeout(() => {
        if (t.stopped) return;
        t.state.ready = true;
        t.state.readySince = Date.now();
        this.transition(t);
      }, NO_PORT_SETTLE_MS * Math.max(this.opts.timeScale, 0.1));
      timer.unref();
      t.timers.set('default', timer);
      return;
    }
    const since = Date.now();
    const attempt = async () => {
      if (t.stopped) return;
      const r = await checkTcp(ep.host, ep.port, 1000);
      if (t.stopped) return;
      if (r.ok) {
        t.state.ready = true;
        t.state.readySince = Date.now();
        this.transition(t);
        return;
      }
      const delay = Math.min(DEFAULT_READY_POLL_MAX_MS, Math.max(DEFAULT_READY_POLL_MIN_MS, (Date.now() - since) * DEFAULT_READY_POLL_SHARE));
      const timer = setTimeout(attempt, delay);
      timer.unref();
      t.timers.set('default', timer);
    };
    void attempt();
  }

  private async runOnce(t: Tracked, check: HealthCheckSpec, timeoutMs: number): Promise<CheckResult> {
    if (check.protocol === 'CMD') return this.opts.runCmd(t.target.instanceId, check.cmd ?? 'true', timeoutMs);
    const ep = t.target.endpoints.find((e) => e.internalPort === check.port) ?? t.target.endpoints[0];
    if (!ep) return { ok: false, error: `no endpoint for port ${check.port}` };
    return check.protocol === 'HTTP' ? checkHttp(ep.host, ep.port, check.path ?? '/', timeoutMs) : checkTcp(ep.host, ep.port, timeoutMs);
  }

  private schedule(t: Tracked, check: HealthCheckSpec): void {
    const scale = this.opts.timeScale;
    const kind = check.type;
    const status: ProbeStatus = { passing: false, consecutiveFailures: 0, consecutiveSuccesses: 0 };
    t.state.probes[kind] = status;
    const successThreshold = kind === 'readinessProbe' ? (check.successThreshold ?? 1) : 1;
    const tick = async () => {
      if (t.stopped) return;
      const r = await this.runOnce(t, check, Math.max(50, check.timeoutSeconds * 1000 * scale));
      if (t.stopped) return;
      const now = new Date().toISOString();
      if (r.ok) {
        status.consecutiveSuccesses++;
        status.consecutiveFailures = 0;
        status.lastSuccessAt = now;
        if (!status.passing && status.consecutiveSuccesses >= successThreshold) {
          status.passing = true;
          this.onPass(t, kind, check);
        }
      } else {
        status.consecutiveFailures++;
        status.consecutiveSuccesses = 0;
        status.lastFailureAt = now;
        status.lastError = r.error;
        if (status.consecutiveFailures >= check.failureThreshold && (status.passing || kind !== 'readinessProbe' || status.consecutiveFailures === check.failureThreshold)) {
          status.passing = false;
          this.onFail(t, kind);
        }
      }
      // A passed startup probe stops; every other probe keeps running for the instance's life.
      if (kind === 'startupProbe' && status.passing) return;
      if (kind === 'livenessProbe' && t.state.unhealthy) return;
      const timer = setTimeout(tick, Math.max(20, check.periodSeconds * 1000 * scale));
      timer.unref();
      t.timers.set(kind, timer);
    };
    const first = setTimeout(tick, Math.max(0, check.initialDelaySeconds * 1000 * scale));
    first.unref();
    t.timers.set(kind, first);
  }

  private onPass(t: Tracked, kind: ProbeKind, _check: HealthCheckSpec): void {
    if (kind === 'startupProbe') {
      t.state.started = true;
      this.afterStartup(t);
    } else if (kind === 'readinessProbe') {
      t.state.ready = true;
      t.state.readySince = Date.now();
    }
    this.transition(t);
  }

  private onFail(t: Tracked, kind: ProbeKind): void {
    if (kind === 'readinessProbe') t.state.ready = false;
    else t.state.unhealthy = true; // startup never passing, or liveness failing: replace
    this.transition(t);
  }
}
