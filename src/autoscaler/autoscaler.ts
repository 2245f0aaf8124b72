/**
 * The horizontal autoscaler: every interval (`SLIPWAY_AUTOSCALE_INTERVAL_SECONDS`, 15 s) each service with
 * `autoscaling.horizontal.enabled` is evaluated with the HPA algorithm (hpa.ts) over the metrics it enables,
 * and its `deployment.instances` set to the result, the way the HPA sets a Deployment's replicas: the service
 * controller then starts or drains instances as for any scale. Each change is an event that says why.
 *
 * It holds (changes nothing) while a rollout of the service is open, while the service is paused or scaled to
 * 0 (maintenance), and runs a service with a volume on one instance. What it last saw per service is kept in
 * memory (as the HPA keeps its recommendations): after a control-plane start, a scale-down waits a full
 * stabilization window.
 */
import { serviceKey } from '../domain/ids.ts';
import { findPlan } from '../domain/plans.ts';
import type { ServiceRecord } from '../domain/service.ts';
import { combine, normalize, perInstanceReplicas, stabilize, totalReplicas, type InstanceSample, type MetricProposal, type Recommendation } from './hpa.ts';
import { autoscalePolicy, type AutoscalePolicy } from './spec.ts';
import type { AutoscaleSignals } from './signals.ts';
import { UserMetricScraper } from './signals.ts';
import { scaleMessage, summarize, type AutoscaleReason, type AutoscaleStatus, type MetricKind, type MetricStatus } from './status.ts';

/** A running web instance of a service, as the autoscaler sees it. */
export interface ScaledInstance {
  id: string;
  ready: boolean;
  /** host:port per internal port */
  ports: Map<number, string>;
}

/** What the autoscaler needs of the store: services, open rollouts, volumes, events. */
export interface AutoscaleStore {
  services: {
    listOpen(): Promise<{ projectId: string; id: string; kind: ServiceRecord['kind']; spec: { autoscaling?: unknown } }[]>;
    find(projectId: string, id: string): Promise<ServiceRecord | undefined>;
    update(projectId: string, id: string, expectedVersion: number, spec: ServiceRecord['spec'], status?: { deployStatus: 'IN_PROGRESS'; deployReason: 'SCALING' }): Promise<ServiceRecord>;
  };
  rollouts: { active(serviceKey: string): Promise<unknown[]> };
  volumes: { forService(projectId: string, serviceId: string): Promise<unknown> };
  events: { append(e: { projectId: string; serviceId: string | null; kind: string; reason: string; message: string }): Promise<void> };
}

export interface AutoscalerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AutoscalerOptions {
  intervalMs: number;
  downStabilizationMs: number;
  logger: AutoscalerLogger;
  /** the running web instances of a service (not stopping, not exited) */
  instances(serviceKey: string): Promise<ScaledInstance[]>;
  /** wake the service controller after a count changed */
  serviceChanged(serviceKey: string): void;
  now?: () => number;
}

interface Memory {
  history: Recommendation[];
  status?: AutoscaleStatus;
}

export class Autoscaler {
  private readonly memory = new Map<string, Memory>();
  private readonly scraper = new UserMetricScraper();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly store: AutoscaleStore,
    private readonly signals: AutoscaleSignals,
    private readonly opts: AutoscalerOptions,
  ) {}

  start(): void {
    // A first pass at once takes the baseline readings (rates need two).
    this.kick();
    this.timer = setInterval(() => this.kick(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * The last evaluation of an autoscaled service; before its first (a service just created or just given a
   * policy), its bounds and metrics with nothing read yet.
   */
  status(svc: ServiceRecord, policy: AutoscalePolicy): AutoscaleStatus {
    const last = this.memory.get(serviceKey(svc.projectId, svc.id))?.status;
    if (last) return last;
    const current = svc.spec.deployment?.instances ?? 0;
    const metrics: MetricStatus[] = [];
    const unread = (name: string, kind: MetricKind, target: number) => metrics.push({ name, kind, target, value: null, replicas: null });
    if (policy.cpuPercent !== undefined) unread('cpu', 'cpu', policy.cpuPercent);
    if (policy.memoryPercent !== undefined) unread('memory', 'memory', policy.memoryPercent);
    if (policy.rps !== undefined) unread('rps', 'rps', policy.rps);
    for (const m of policy.userMetrics?.metrics ?? []) unread(m.metricName, m.metricType, m.thresholdValue);
    return { minReplicas: policy.minReplicas, maxReplicas: policy.maxReplicas, currentReplicas: current, readyReplicas: 0, desiredReplicas: current, metrics, reason: 'MetricsUnavailable', message: 'not evaluated yet' };
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.evaluateAll().finally(() => (this.running = undefined));
  }

  /** One evaluation of every autoscaled service. */
  async evaluateAll(): Promise<void> {
    const seen = new Set<string>();
    // The autoscaled services are picked from every service's open spec in one read; only they are read whole.
    const autoscaled = (await this.store.services.listOpen().catch(() => [])).filter((k) => k.kind !== 'build' && autoscalePolicy(k.spec));
    for (const k of autoscaled) {
      const key = serviceKey(k.projectId, k.id);
      try {
        const svc = await this.store.services.find(k.projectId, k.id);
        const policy = svc && svc.kind !== 'build' ? autoscalePolicy(svc.spec) : undefined;
        if (!svc || !policy) continue;
        seen.add(key);
        await this.evaluate(svc, policy);
      } catch (err) {
        this.opts.logger.warn({ service: key, err: (err as Error).message }, 'autoscaler evaluation failed');
      }
    }
    for (const key of this.memory.keys()) if (!seen.has(key)) this.memory.delete(key);
  }

  private async evaluate(svc: ServiceRecord, policy: AutoscalePolicy): Promise<void> {
    const key = serviceKey(svc.projectId, svc.id);
    const now = (this.opts.now ?? Date.now)();
    const current = svc.spec.deployment?.instances ?? 0;
    const mem = this.memory.get(key) ?? { history: [{ replicas: current, at: now }] };
    this.memory.set(key, mem);
    const instances = await this.opts.instances(key);
    const metrics = await this.readMetrics(svc, policy, current, instances);
    const base = { minReplicas: policy.minReplicas, maxReplicas: policy.maxReplicas, currentReplicas: current, readyReplicas: instances.filter((i) => i.ready).length, metrics, evaluatedAt: new Date(now).toISOString(), ...(mem.status?.lastScaleTime ? { lastScaleTime: mem.status.lastScaleTime, lastScaleMessage: mem.status.lastScaleMessage } : {}) };
    const hold = (reason: AutoscaleReason, message: string, desired = current) => {
      mem.status = { ...base, desiredReplicas: desired, reason, message };
    };

    if (svc.paused || current === 0) return hold('ScalingDisabled', svc.paused ? 'the service is paused' : 'the service is scaled to 0 (maintenance mode): autoscaling resumes when it runs again');
    if (!svc.targetReleaseId) return hold('ScalingDisabled', 'the service has no release yet');
    const volume = await this.store.volumes.forService(svc.projectId, svc.id);
    const max = volume ? 1 : policy.maxReplicas;
    const min = Math.min(policy.minReplicas, max);

    const valid = metrics.filter((m) => m.replicas !== null).map((m): MetricProposal => ({ name: m.name, target: m.target, replicas: m.replicas!, value: m.value! }));
    const invalid = metrics.length - valid.length;
    const combined = combine(current, valid, invalid);
    const stable = stabilize(current, combined.replicas, mem.history, now, this.opts.downStabilizationMs);
    mem.history = stable.history;
    const normal = normalize(current, stable.replicas, { min, max });
    const desired = normal.replicas;
    const by = combined.by ? metrics.find((m) => m.name === combined.by!.name) : undefined;

    if ((await this.store.rollouts.active(key)).length > 0) return hold('HeldForRollout', `a rollout is in progress: scaling waits for it to end (would go ${current} -> ${desired})`, desired);
    if (desired === current) {
      if (valid.length === 0) return hold('MetricsUnavailable', `no metric could be read yet (${summarize(metrics)})`);
      if (volume && combined.replicas > 1) return hold('LimitedByVolume', `${summarize(metrics)}: wants ${combined.replicas}, but the service has a volume attached and runs one instance`);
      if (stable.replicas > combined.replicas) return hold('ScaleDownStabilized', `${scaleMessage(by, current, combined.replicas)} held: the last ${Math.round(this.opts.downStabilizationMs / 1000)} s recommended up to ${stable.replicas}`);
      const note = combined.replicas > max ? `wants ${combined.replicas}, limited by maxReplicas ${max}` : combined.replicas < min ? `held at minReplicas ${min}` : `${current} fit`;
      return hold('ScalingActive', `${summarize(metrics)}: ${note}`);
    }

    const notes: string[] = [];
    if (desired < current && this.opts.downStabilizationMs > 0) notes.push(`after the ${Math.round(this.opts.downStabilizationMs / 1000)} s stabilization window`);
    if (normal.limitedBy === 'max') notes.push(volume ? 'one instance: a volume is attached' : `limited by maxReplicas ${max}`);
    if (normal.limitedBy === 'min') notes.push(`minReplicas ${min}`);
    if (normal.limitedBy === 'scaleUpLimit') notes.push('at most double, or +4, per evaluation');
    const extra = notes.join(', ') || undefined;
    const message = scaleMessage(by, current, desired, extra);
    const up = desired > current;
    try {
      await this.store.services.update(svc.projectId, svc.id, svc.version, { ...svc.spec, deployment: { ...(svc.spec.deployment ?? { instances: current }), instances: desired } }, { deployStatus: 'IN_PROGRESS', deployReason: 'SCALING' });
    } catch (err) {
      // A concurrent write (a user's change): the next evaluation reads it.
      return hold('ScalingActive', `scaling ${current} -> ${desired} deferred: ${(err as Error).message}`, desired);
    }
    await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'autoscale', reason: up ? 'ScaledUp' : 'ScaledDown', message });
    this.opts.logger.info({ service: key, from: current, to: desired }, `autoscaled: ${message}`);
    this.opts.serviceChanged(key);
    mem.status = { ...base, desiredReplicas: desired, reason: up ? 'ScaledUp' : 'ScaledDown', message, lastScaleTime: new Date(now).toISOString(), lastScaleMessage: message };
  }

  /** Each enabled metric's value and the count it asks for. */
  private async readMetrics(svc: ServiceRecord, policy: AutoscalePolicy, current: number, instances: ScaledInstance[]): Promise<MetricStatus[]> {
    const out: MetricStatus[] = [];
    const push = (name: string, kind: MetricKind, target: number, p: { replicas: number; value: number } | undefined) => out.push({ name, kind, target, value: p ? p.value : null, replicas: p ? p.replicas : null });
    if (current === 0) return out;
    const plan = findPlan(svc.spec.billing?.deploymentPlan ?? '') ?? { cpu: 0.2, memoryMb: 512 };
    const load = await this.signals.read(svc.projectId, svc.id, instances.map((i) => i.id), plan);
    if (policy.cpuPercent !== undefined) {
      const samples: InstanceSample[] = instances.map((i) => ({ ready: i.ready, value: load.usage.get(i.id)?.cpuPercent }));
      push('cpu', 'cpu', policy.cpuPercent, perInstanceReplicas(current, policy.cpuPercent, samples, { unreadyAside: true }));
    }
    if (policy.memoryPercent !== undefined) {
      const samples: InstanceSample[] = instances.map((i) => ({ ready: i.ready, value: load.usage.get(i.id)?.memoryPercent }));
      push('memory', 'memory', policy.memoryPercent, perInstanceReplicas(current, policy.memoryPercent, samples));
    }
    if (policy.rps !== undefined) push('rps', 'rps', policy.rps, load.rps === undefined ? undefined : totalReplicas(current, policy.rps, load.rps));
    const um = policy.userMetrics;
    if (um) {
      const read = await Promise.all(
        instances.map((i) => {
          const addr = i.ports.get(um.port);
          return addr ? this.scraper.read(i.id, `http://${addr}${um.path}`, um.metrics) : Promise.resolve(undefined);
        }),
      );
      this.scraper.retain(new Set(instances.map((i) => i.id)));
      for (const m of um.metrics) {
        const samples: InstanceSample[] = instances.map((i, n) => ({ ready: i.ready, value: read[n]?.get(m.metricName) }));
        push(m.metricName, m.metricType, m.thresholdValue, perInstanceReplicas(current, m.thresholdValue, samples));
      }
    }
    return out;
  }
}
