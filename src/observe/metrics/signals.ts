/**
 * Metric signals: the small reader that decides from live numbers (the autoscaler) uses. STABLE CONTRACT:
 * fields are only ever added, never renamed, retyped or removed.
 *
 * `signals.service(projectId, serviceId, { windowSeconds? })` resolves to a `ServiceSignals`:
 * - `instances`: every instance of the service the runtime reported *running* at the last sampling pass (every
 *   process type; filter on `processType === 'web'` for the routed one; one started since appears at the next
 *   pass), each with
 *   - `ready`: its readiness at the moment of the call (the probes' verdict, the same that gates traffic);
 *   - `cpuPercentOfPlan`: CPU used over the last sampling interval as a percentage of the plan's vCPU
 *     (100 = the plan's whole CPU; above 100 where the runtime does not cap CPU). `null` until the instance has
 *     been sampled twice (CPU needs two readings) or when its plan is unknown;
 *   - `memoryPercentOfPlan` / `memoryBytes`: resident memory at the last sample, as a percentage of the plan's
 *     memory and in bytes; `null` until the first sample;
 *   - `sampledAt`: epoch ms of that sample, `null` if none yet (an instance started since the last pass).
 * - `requestsPerSecond`: requests the router took for the service (every routed port, every answer, the
 *   router's own 401/403/503 included) per second, averaged over the samples of the last `windowSeconds`
 *   (default 60). `windowSeconds` in the answer is the span actually covered (shorter just after a start);
 *   `requestsPerSecond` is `null` while no router sample covers any of it (metrics port off, or no pass yet).
 * - `intervalSeconds`: the sampler's period (`SLIPWAY_METRICS_INTERVAL_SECONDS`), i.e. how stale a value can be.
 *
 * With collection off (`SLIPWAY_METRICS_INTERVAL_SECONDS=0`) no pass runs: `instances` is empty and
 * `requestsPerSecond` null.
 *
 * Never throws for an unknown service or one without instances (empty `instances`, `requestsPerSecond` null
 * or 0). Reads memory only (no store, no runtime call): cheap enough to call every pass. The numbers are the
 * ones the sampler stores (see docs/metrics.md), so what the autoscaler decided on matches the charts.
 *
 * `signals.onSample(listener)` calls `listener(atMs)` after each completed sampling pass (the values above have
 * just changed); returns an unsubscribe function. Optional to use: polling `service()` works as well.
 */

export interface InstanceSignal {
  instanceId: string;
  /** release id of the instance (labels.release) */
  releaseId: string;
  /** `web` is the routed process type */
  processType: string;
  ready: boolean;
  /** ISO time the runtime started it, where known */
  startedAt?: string;
  cpuPercentOfPlan: number | null;
  memoryPercentOfPlan: number | null;
  memoryBytes: number | null;
  sampledAt: number | null;
}

export interface ServiceSignals {
  projectId: string;
  serviceId: string;
  instances: InstanceSignal[];
  requestsPerSecond: number | null;
  windowSeconds: number;
  intervalSeconds: number;
}

export interface MetricSignals {
  service(projectId: string, serviceId: string, opts?: { windowSeconds?: number }): Promise<ServiceSignals>;
  onSample(listener: (atMs: number) => void): () => void;
}

/** The latest numbers of one running instance, as the sampler keeps them in memory. */
export interface LatestInstanceSample {
  instanceId: string;
  projectId: string;
  /** service or addon id */
  ownerId: string;
  releaseId: string;
  processType: string;
  startedAt?: string;
  cpuPercentOfPlan: number | null;
  memoryPercentOfPlan: number | null;
  memoryBytes: number | null;
  sampledAt: number | null;
}

/** What SignalsReader reads: implemented by the sampler (sampler.ts). */
export interface SignalSource {
  readonly intervalSeconds: number;
  /** Running instances of a service at the last pass, with their latest sample. */
  latestInstances(projectId: string, serviceId: string): LatestInstanceSample[];
  /** Requests and the seconds they span, summed over the samples taken since `sinceMs`; undefined if none. */
  requestsSince(projectId: string, serviceId: string, sinceMs: number): { requests: number; seconds: number } | undefined;
  onSample(listener: (atMs: number) => void): () => void;
}

export class SignalsReader implements MetricSignals {
  constructor(
    private readonly source: SignalSource,
    /** the probes' readiness verdict of an instance now */
    private readonly isReady: (instanceId: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  async service(projectId: string, serviceId: string, opts: { windowSeconds?: number } = {}): Promise<ServiceSignals> {
    const window = Math.max(1, opts.windowSeconds ?? 60);
    const instances = this.source.latestInstances(projectId, serviceId).map((s) => ({
      instanceId: s.instanceId,
      releaseId: s.releaseId,
      processType: s.processType,
      ready: this.isReady(s.instanceId),
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      cpuPercentOfPlan: s.cpuPercentOfPlan,
      memoryPercentOfPlan: s.memoryPercentOfPlan,
      memoryBytes: s.memoryBytes,
      sampledAt: s.sampledAt,
    }));
    const r = this.source.requestsSince(projectId, serviceId, this.now() - window * 1000);
    return {
      projectId,
      serviceId,
      instances,
      requestsPerSecond: r && r.seconds > 0 ? r.requests / r.seconds : null,
      windowSeconds: r ? Math.round(r.seconds) : 0,
      intervalSeconds: this.source.intervalSeconds,
    };
  }

  onSample(listener: (atMs: number) => void): () => void {
    return this.source.onSample(listener);
  }
}
