/**
 * Where the autoscaler reads load: one small interface, so the source can change without touching the
 * algorithm or the loop. `DirectSignals` reads it itself: an instance's CPU and memory from the runtime
 * driver's `usage()` (on the process runtime, `/proc` of the instance's process group; on docker, the
 * engine's stats), and a service's requests from the router's Prometheus endpoint (src/router/metrics.ts:
 * `haproxy_backend_http_requests_total` per `proxy`, joined to the service through `/routes`).
 */
import { counterRate, parsePromText, sumOf } from './prom-text.ts';

export interface PlanSize {
  /** cores */
  cpu: number;
  memoryMb: number;
}

export interface AutoscaleSignals {
  /**
   * One instance's CPU and memory as a percentage of its plan (CPU may exceed 100). A field is undefined
   * where there is no sample yet; the whole answer is undefined when the instance is gone.
   */
  instanceUsage(instanceId: string, plan: PlanSize): Promise<{ cpuPercent?: number; memoryPercent?: number } | undefined>;
  /** Requests per second the router served the service recently; undefined until two readings exist. */
  serviceRps(projectId: string, serviceId: string): Promise<number | undefined>;
}

export interface UsageSource {
  usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined>;
}

export class DirectSignals implements AutoscaleSignals {
  /** the last reading of each service's request counter */
  private readonly last = new Map<string, { value: number; at: number }>();
  /** the last rate of each service, kept until a new reading: two evaluations within a second read the same */
  private readonly rates = new Map<string, { rps: number; at: number }>();
  private scrape?: { at: number; doc: Promise<{ byService: Map<string, number> } | undefined> };

  constructor(
    private readonly driver: UsageSource,
    /** the router's metrics address (127.0.0.1:<port>); undefined when the router serves none */
    private readonly routerMetrics: () => string | undefined,
    private readonly opts: { minRateWindowMs?: number } = {},
  ) {}

  async instanceUsage(instanceId: string, plan: PlanSize): Promise<{ cpuPercent?: number; memoryPercent?: number } | undefined> {
    const u = await this.driver.usage(instanceId).catch(() => undefined);
    if (!u) return undefined;
    return {
      cpuPercent: plan.cpu > 0 ? u.cpuPercent / plan.cpu : undefined,
      memoryPercent: plan.memoryMb > 0 ? (u.memoryBytes / (plan.memoryMb * 1024 * 1024)) * 100 : undefined,
    };
  }

  async serviceRps(projectId: string, serviceId: string): Promise<number | undefined> {
    const key = `${projectId}/${serviceId}`;
    const doc = await this.routerCounters();
    if (!doc) return undefined;
    const now = Date.now();
    const cur = { value: doc.byService.get(key) ?? 0, at: now };
    const prev = this.last.get(key);
    const held = this.rates.get(key);
    // Readings closer than the window would make a noisy rate: keep the last one.
    if (prev && now - prev.at < (this.opts.minRateWindowMs ?? 1000)) return held?.rps;
    this.last.set(key, cur);
    const rps = counterRate(prev, cur);
    if (rps !== undefined) this.rates.set(key, { rps, at: now });
    return rps;
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

async function readRouterCounters(addr: string): Promise<{ byService: Map<string, number> } | undefined> {
  try {
    const [metrics, routes] = await Promise.all([fetchText(`http://${addr}/metrics`), fetchText(`http://${addr}/routes`)]);
    const serviceOfProxy = new Map<string, string>();
    for (const s of parsePromText(routes)) if (s.name === 'slipway_route_info' && s.labels.proxy) serviceOfProxy.set(s.labels.proxy, `${s.labels.project}/${s.labels.service}`);
    const byService = new Map<string, number>();
    for (const s of parsePromText(metrics)) {
      if (s.name !== 'haproxy_backend_http_requests_total') continue;
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
