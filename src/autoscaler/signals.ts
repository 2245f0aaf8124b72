/**
 * Where the autoscaler reads load: one small interface, so the source can change without touching the
 * algorithm or the loop. `MetricsSignals` reads the metrics sampler (src/observe/metrics/signals.ts: the
 * numbers the charts show); `DirectSignals` reads it itself, for when metrics collection is off
 * (`SLIPWAY_METRICS_INTERVAL_SECONDS=0`): an instance's CPU and memory from the runtime driver's `usage()`,
 * and a service's requests from the router's Prometheus endpoint (src/router/metrics.ts:
 * `haproxy_backend_http_requests_total` per `proxy`, joined to the service through `/routes`).
 */
import type { MetricSignals } from '../observe/metrics/signals.ts';
import { fetchPromDocument } from '../observe/metrics/prom-text.ts';
import { counterRate, parsePromText, sumOf } from './prom-text.ts';

export interface PlanSize {
  /** cores */
  cpu: number;
  memoryMb: number;
}

export interface ServiceLoad {
  /** per instance id: CPU and memory as a percentage of the plan (CPU may exceed 100); a field absent where there is no sample */
  usage: Map<string, { cpuPercent?: number; memoryPercent?: number }>;
  /** requests per second the router served the service recently; undefined while unknown */
  rps?: number;
}

export interface AutoscaleSignals {
  /** The load of a service now: read once per evaluation. */
  read(projectId: string, serviceId: string, instanceIds: string[], plan: PlanSize): Promise<ServiceLoad>;
}

/** The metrics sampler's reader. Requests per second are the mean over `windowSeconds` (at least two samples). */
export class MetricsSignals implements AutoscaleSignals {
  constructor(
    private readonly signals: () => MetricSignals,
    private readonly windowSeconds: (samplerIntervalSeconds: number) => number,
  ) {}

  private samplerInterval = 10;

  async read(projectId: string, serviceId: string): Promise<ServiceLoad> {
    const s = await this.signals().service(projectId, serviceId, { windowSeconds: this.windowSeconds(this.samplerInterval) });
    this.samplerInterval = s.intervalSeconds;
    const usage = new Map<string, { cpuPercent?: number; memoryPercent?: number }>();
    for (const i of s.instances) {
      usage.set(i.instanceId, { ...(i.cpuPercentOfPlan !== null ? { cpuPercent: i.cpuPercentOfPlan } : {}), ...(i.memoryPercentOfPlan !== null ? { memoryPercent: i.memoryPercentOfPlan } : {}) });
    }
    return { usage, ...(s.requestsPerSecond !== null ? { rps: s.requestsPerSecond } : {}) };
  }
}

export interface UsageSource {
  usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined>;
}

/** Reads the runtime and the router directly (metrics collection off). */
export class DirectSignals implements AutoscaleSignals {
  /** the last reading of each service's request counter */
  private readonly last = new Map<string, { value: number; at: number }>();
  /** instances read once: their first CPU reading has no interval behind it */
  private readonly seen = new Set<string>();
  private scrape?: { at: number; doc: Promise<{ byService: Map<string, number> } | undefined> };

  constructor(
    private readonly driver: UsageSource,
    /** the router's metrics address (127.0.0.1:<port>); undefined when the router serves none */
    private readonly routerMetrics: () => string | undefined,
  ) {}

  async read(projectId: string, serviceId: string, instanceIds: string[], plan: PlanSize): Promise<ServiceLoad> {
    const usage = new Map<string, { cpuPercent?: number; memoryPercent?: number }>();
    await Promise.all(
      instanceIds.map(async (id) => {
        const u = await this.driver.usage(id).catch(() => undefined);
        if (!u) return;
        const first = !this.seen.has(id);
        this.seen.add(id);
        usage.set(id, {
          ...(!first && plan.cpu > 0 ? { cpuPercent: u.cpuPercent / plan.cpu } : {}),
          ...(plan.memoryMb > 0 ? { memoryPercent: (u.memoryBytes / (plan.memoryMb * 1024 * 1024)) * 100 } : {}),
        });
      }),
    );
    const rps = await this.serviceRps(projectId, serviceId);
    return { usage, ...(rps !== undefined ? { rps } : {}) };
  }

  private async serviceRps(projectId: string, serviceId: string): Promise<number | undefined> {
    const key = `${projectId}/${serviceId}`;
    const doc = await this.routerCounters();
    if (!doc) return undefined;
    const cur = { value: doc.byService.get(key) ?? 0, at: Date.now() };
    const prev = this.last.get(key);
    this.last.set(key, cur);
    return counterRate(prev, cur);
  }

  /** Every service's request counter total, read at most once a second for all services. */
  private routerCounters(): Promise<{ byService: Map<string, number> } | undefined> {
    const now = Date.now();
    if (this.scrape && now - this.scrape.at < 1000) return this.scrape.doc;
    const addr = this.routerMetrics();
    const doc = addr ? readRouterCounters(addr) : Promise.resolve(undefined);
    this.scrape = { at: now, doc };
    return doc;
  }
}

/** The router's request counter of each backend (haproxy_backend_http_requests_total) and each backend's service. */
const COUNTERS: ReadonlySet<string> = new Set(['haproxy_backend_http_requests_total']);
const ROUTE_INFO: ReadonlySet<string> = new Set(['slipway_route_info']);

async function readRouterCounters(addr: string): Promise<{ byService: Map<string, number> } | undefined> {
  try {
    // Only the two families read are parsed, a chunk per turn of the event loop (fetchPromDocument).
    const [metrics, routes] = await Promise.all([fetchPromDocument(`http://${addr}/metrics`, COUNTERS, 3000), fetchPromDocument(`http://${addr}/routes`, ROUTE_INFO, 3000)]);
    const serviceOfProxy = new Map<string, string>();
    for (const s of routes.samples) if (s.labels.proxy) serviceOfProxy.set(s.labels.proxy, `${s.labels.project}/${s.labels.service}`);
    const byService = new Map<string, number>();
    for (const s of metrics.samples) {
      const key = serviceOfProxy.get(s.labels.proxy ?? '');
      if (key) byService.set(key, (byService.get(key) ?? 0) + s.value);
    }
    return { byService };
  } catch {
    return undefined;
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

/**
 * Scrapes a user metric endpoint of one instance and returns each named metric's value: a gauge as it is,
 * a counter as its per-second rate since the previous scrape of the same instance (undefined on the first).
 */
export class UserMetricScraper {
  private readonly last = new Map<string, { value: number; at: number }>();

  async read(instanceId: string, url: string, metrics: { metricName: string; metricType: 'gauge' | 'counter' }[]): Promise<Map<string, number | undefined> | undefined> {
    let samples;
    try {
      samples = parsePromText(await fetchText(url));
    } catch {
      return undefined;
    }
    const now = Date.now();
    const out = new Map<string, number | undefined>();
    for (const m of metrics) {
      const v = sumOf(samples, m.metricName) ?? sumOf(samples, `${m.metricName}_total`);
      if (v === undefined) {
        out.set(m.metricName, undefined);
        continue;
      }
      if (m.metricType === 'gauge') out.set(m.metricName, v);
      else {
        const key = `${instanceId}\u0000${m.metricName}`;
        const prev = this.last.get(key);
        this.last.set(key, { value: v, at: now });
        out.set(m.metricName, counterRate(prev, { value: v, at: now }));
      }
    }
    return out;
  }

  /** Forget instances that are gone. */
  retain(instanceIds: Set<string>): void {
    for (const key of this.last.keys()) if (!instanceIds.has(key.split('\u0000')[0]!)) this.last.delete(key);
  }
}
