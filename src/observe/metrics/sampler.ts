/**
 * The metrics sampler: every `intervalSeconds` it reads each running instance's usage from the runtime driver
 * (the process runtime reads /proc, the docker runtime the engine's stats), the router's own counters
 * (router-scrape.ts), and writes one point per metric to the store (tier 0), folds whole minutes into tier 1
 * and prunes both tiers by age. It keeps the latest numbers in memory for the readers that must not wait
 * on the store: signals.ts (the autoscaler) and the Prometheus export.
 *
 * One pass never overlaps the next (a slow pass delays the next one); a failing pass is logged and the next
 * one runs as usual. Nothing here is essential state: a restart loses only the in-memory window.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ObservedInstance, RuntimeDriver } from '../../runtime/driver.ts';
import type { Store } from '../../store/store.ts';
import type { MetricPoint, MetricsRepo } from '../../store/metrics-repo.ts';
import { findPlan, type Plan } from '../../domain/plans.ts';
import { ADDON_PROCESS_TYPE } from '../../domain/addons.ts';
import { fetchPromDocument, parsePromText } from './prom-text.ts';
import { proxyName } from '../../router/metrics.ts';
import { reduceScrape, trafficBetween, SCRAPED_METRICS, SCRAPED_ROUTES, STATUS_CLASSES, type RouterScrape, type ServiceTraffic } from './router-scrape.ts';
import type { LatestInstanceSample, SignalSource } from './signals.ts';

export interface SamplerOptions {
  intervalSeconds: number;
  /** how long tier 0 (the sampler's interval) is kept */
  rawRetentionSeconds: number;
  /** how long tier 1 (1-minute roll-ups) is kept */
  rollupRetentionSeconds: number;
  logger: Logger;
  /** the router's metrics port (Prometheus text on 127.0.0.1), undefined while it serves none */
  routerMetricsPort: () => number | undefined;
  /** the routes the control plane handed the router (route key, project, service): owners of backends `/routes` does not name */
  routes?: () => Iterable<{ key: string; project: string; service: string }>;
  /**
   * The interval's request-time percentiles of a service from the router's per-request stream (main.ts wires
   * release-traffic.ts here), in seconds; used where the router's own metrics have no histogram (HAProxy).
   */
  requestPercentiles?: (projectId: string, serviceId: string, fromMs: number, toMs: number) => { p50: number; p90: number; p99: number } | undefined;
}

/** A service's (or addon's) numbers at the last pass, for the Prometheus export. */
export interface OwnerTotals {
  projectId: string;
  ownerKind: 'service' | 'addon';
  ownerId: string;
  /** cumulative since the control plane started (counters) */
  requestsTotal: number;
  responsesTotal: Record<string, number>;
  /** the last interval's */
  traffic?: ServiceTraffic & { seconds: number };
}

interface WindowEntry {
  atMs: number;
  requests: number;
  seconds: number;
}

const WINDOW_KEEP_MS = 15 * 60_000;
/** Instances read between two turns of the event loop (see forEachLimited). */
const YIELD_EVERY = 250;

export class MetricsSampler implements SignalSource {
  readonly intervalSeconds: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private latest = new Map<string, LatestInstanceSample>();
  private byOwner = new Map<string, LatestInstanceSample[]>();
  private windows = new Map<string, WindowEntry[]>();
  private totals = new Map<string, OwnerTotals>();
  /** exits seen per instance since the last pass, and in all since the control plane started */
  private exitsPending = new Map<string, number>();
  private exitsTotal = new Map<string, number>();
  private prevScrape?: RouterScrape;
  private prevCpu = new Map<string, number>();
  private releasePlans = new Map<string, string | undefined>();
  private listeners = new Set<(atMs: number) => void>();
  private unwatch?: () => void;
  private lastRollupMs = 0;

  constructor(
    private readonly driver: Pick<RuntimeDriver, 'list' | 'usage' | 'watch'>,
    private readonly store: Store,
    private readonly repo: MetricsRepo,
    private readonly opts: SamplerOptions,
  ) {
    this.intervalSeconds = opts.intervalSeconds;
  }

  start(): void {
    if (this.intervalSeconds <= 0) return; // collection off
    this.stopped = false;
    this.unwatch = this.driver.watch((e) => {
      if (e.type !== 'exited') return;
      this.exitsPending.set(e.instance.id, (this.exitsPending.get(e.instance.id) ?? 0) + 1);
      this.exitsTotal.set(e.instance.id, (this.exitsTotal.get(e.instance.id) ?? 0) + 1);
    });
    const loop = () => {
      if (this.stopped) return;
      this.running = this.pass()
        .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'metrics pass failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.intervalSeconds * 1000);
        });
    };
    this.timer = setTimeout(loop, Math.min(1000, this.intervalSeconds * 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.unwatch?.();
    await this.running;
  }

  /** One sampling pass; exported for tests and benchmarks that want a pass now. */
  async pass(): Promise<void> {
    const atMs = Date.now();
    const ts = Math.floor(atMs / 1000);
    const points: MetricPoint[] = [];
    const add = (ownerKind: 'service' | 'addon', projectId: string, ownerId: string, instanceId: string, name: string, value: number) => {
      if (Number.isFinite(value)) points.push({ tier: 0, ts, projectId, ownerKind, ownerId, instanceId, name, sum: value, count: 1, max: value });
    };

    // Instances: usage against the plan.
    const running = (await this.driver.list()).filter((i) => i.state === 'running');
    const latest = new Map<string, LatestInstanceSample>();
    const addonPlans = new Map<string, string | undefined>();
    const counts = new Map<string, { kind: 'service' | 'addon'; projectId: string; ownerId: string; n: number }>();
    await forEachLimited(running, 8, async (inst) => {
      const kind = inst.labels.processType === ADDON_PROCESS_TYPE ? 'addon' : 'service';
      const ownerKey = `${kind}:${inst.labels.project}/${inst.labels.service}`;
      const c = counts.get(ownerKey) ?? { kind, projectId: inst.labels.project, ownerId: inst.labels.service, n: 0 };
      c.n++;
      counts.set(ownerKey, c);
      const usage = await this.driver.usage(inst.id).catch(() => undefined);
      const plan = await this.planOf(inst, kind, addonPlans);
      // The first reading of an instance has no interval behind it: its CPU is unknown, not 0.
      const hadCpu = this.prevCpu.has(inst.id);
      this.prevCpu.set(inst.id, atMs);
      const cores = usage && hadCpu ? usage.cpuPercent / 100 : undefined;
      const sample: LatestInstanceSample = {
        instanceId: inst.id,
        projectId: inst.labels.project,
        ownerId: inst.labels.service,
        releaseId: inst.labels.release,
        processType: inst.labels.processType,
        ...(inst.startedAt ? { startedAt: inst.startedAt } : {}),
        cpuPercentOfPlan: cores !== undefined && plan ? (cores / plan.cpu) * 100 : null,
        memoryPercentOfPlan: usage && plan ? (usage.memoryBytes / (plan.memoryMb * 1024 * 1024)) * 100 : null,
        memoryBytes: usage ? usage.memoryBytes : null,
        sampledAt: usage ? atMs : null,
      };
      latest.set(inst.id, sample);
      if (cores !== undefined) add(kind, sample.projectId, sample.ownerId, inst.id, 'cpu_cores', cores);
      if (sample.cpuPercentOfPlan !== null) add(kind, sample.projectId, sample.ownerId, inst.id, 'cpu_percent', sample.cpuPercentOfPlan);
      if (sample.memoryBytes !== null) add(kind, sample.projectId, sample.ownerId, inst.id, 'memory_bytes', sample.memoryBytes);
      if (sample.memoryPercentOfPlan !== null) add(kind, sample.projectId, sample.ownerId, inst.id, 'memory_percent', sample.memoryPercentOfPlan);
      add(kind, sample.projectId, sample.ownerId, inst.id, 'restarts', this.exitsPending.get(inst.id) ?? 0);
      this.exitsPending.delete(inst.id);
    });
    for (const id of this.prevCpu.keys()) if (!latest.has(id)) this.prevCpu.delete(id);
    for (const c of counts.values()) add(c.kind, c.projectId, c.ownerId, '', 'instances', c.n);

    // Router: what each service took since the previous scrape.
    const traffic = await this.scrapeRouter(atMs);
    for (const t of traffic) {
      const seconds = t.seconds;
      add('service', t.projectId, t.serviceId, '', 'requests', t.requests);
      add('service', t.projectId, t.serviceId, '', 'requests_per_second', seconds > 0 ? t.requests / seconds : 0);
      for (const k of STATUS_CLASSES) add('service', t.projectId, t.serviceId, '', `responses_${k}`, t.responses[k] ?? 0);
      add('service', t.projectId, t.serviceId, '', 'in_flight', t.inFlight);
      if (t.p50 !== undefined) add('service', t.projectId, t.serviceId, '', 'latency_p50_seconds', t.p50);
      if (t.p90 !== undefined) add('service', t.projectId, t.serviceId, '', 'latency_p90_seconds', t.p90);
      if (t.p99 !== undefined) add('service', t.projectId, t.serviceId, '', 'latency_p99_seconds', t.p99);
      if (t.avg !== undefined) add('service', t.projectId, t.serviceId, '', 'latency_avg_seconds', t.avg);
      const key = `${t.projectId}/${t.serviceId}`;
      const w = (this.windows.get(key) ?? []).filter((e) => e.atMs > atMs - WINDOW_KEEP_MS);
      w.push({ atMs, requests: t.requests, seconds });
      this.windows.set(key, w);
      const tot = this.totals.get(`service:${key}`) ?? { projectId: t.projectId, ownerKind: 'service' as const, ownerId: t.serviceId, requestsTotal: 0, responsesTotal: Object.fromEntries(STATUS_CLASSES.map((k) => [k, 0])) };
      tot.requestsTotal += t.requests;
      for (const k of STATUS_CLASSES) tot.responsesTotal[k] += t.responses[k] ?? 0;
      tot.traffic = t;
      this.totals.set(`service:${key}`, tot);
    }

    // Publish in memory first: readers see this pass even if the store is slow.
    this.latest = latest;
    const byOwner = new Map<string, LatestInstanceSample[]>();
    for (const s of latest.values()) {
      const k = `${s.projectId}/${s.ownerId}`;
      byOwner.set(k, [...(byOwner.get(k) ?? []), s]);
    }
    this.byOwner = byOwner;

    await this.repo.insert(points);
    if (atMs - this.lastRollupMs >= 60_000 || Math.floor(atMs / 60_000) !== Math.floor(this.lastRollupMs / 60_000)) {
      this.lastRollupMs = atMs;
      await this.repo.rollup(ts);
      await this.repo.prune(0, ts - this.opts.rawRetentionSeconds);
      await this.repo.prune(1, ts - this.opts.rollupRetentionSeconds);
    }
    for (const l of this.listeners) {
      try {
        l(atMs);
      } catch {}
    }
  }

  private async scrapeRouter(atMs: number): Promise<(ServiceTraffic & { seconds: number })[]> {
    const port = this.opts.routerMetricsPort();
    if (!port) return [];
    let cur: RouterScrape;
    try {
      // `/routes` may be refused (HAProxy serves it only while it fits a buffer): the table's own routes name the owners then.
      const [m, r] = await Promise.all([fetchPromDocument(`http://127.0.0.1:${port}/metrics?scope=backend`, SCRAPED_METRICS), fetchPromDocument(`http://127.0.0.1:${port}/routes`, SCRAPED_ROUTES).catch(() => parsePromText(''))]);
      cur = reduceScrape(m, r, atMs);
      for (const route of this.opts.routes?.() ?? []) {
        const proxy = proxyName(route.key);
        if (!cur.owners.has(proxy)) cur.owners.set(proxy, { projectId: route.project, serviceId: route.service });
      }
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'router metrics not read');
      return [];
    }
    const prev = this.prevScrape;
    this.prevScrape = cur;
    const seconds = prev ? (cur.atMs - prev.atMs) / 1000 : 0;
    return trafficBetween(prev, cur).map((t) => {
      // No histogram (HAProxy 2.6): the percentiles of the requests the access-log stream saw end in the interval.
      if (t.p50 === undefined && prev && this.opts.requestPercentiles) {
        const q = this.opts.requestPercentiles(t.projectId, t.serviceId, prev.atMs, cur.atMs);
        if (q) Object.assign(t, { p50: q.p50, p90: q.p90, p99: q.p99 });
      }
      return { ...t, seconds };
    });
  }

  private async planOf(inst: ObservedInstance, kind: 'service' | 'addon', addonPlans: Map<string, string | undefined>): Promise<Plan | undefined> {
    if (kind === 'addon') {
      const key = `${inst.labels.project}/${inst.labels.service}`;
      if (!addonPlans.has(key)) addonPlans.set(key, (await this.store.addons.find(inst.labels.project, inst.labels.service).catch(() => undefined))?.spec.billing.deploymentPlan);
      const id = addonPlans.get(key);
      return id ? findPlan(id) : undefined;
    }
    // A release is immutable: its plan never changes, so it is looked up once.
    if (!this.releasePlans.has(inst.labels.release)) {
      const rel = await this.store.releases.find(inst.labels.release).catch(() => undefined);
      if (!rel) return undefined;
      const type = inst.labels.processType;
      this.releasePlans.set(inst.labels.release, (type !== 'web' && rel.spec.typePlans?.[type]) || rel.spec.plan);
    }
    const id = this.releasePlans.get(inst.labels.release);
    return id ? findPlan(id) : undefined;
  }

  // --- readers (SignalSource and the Prometheus export) ---

  latestInstances(projectId: string, serviceId: string): LatestInstanceSample[] {
    return (this.byOwner.get(`${projectId}/${serviceId}`) ?? []).filter((s) => s.processType !== ADDON_PROCESS_TYPE);
  }

  latestAddonInstances(projectId: string, addonId: string): LatestInstanceSample[] {
    return (this.byOwner.get(`${projectId}/${addonId}`) ?? []).filter((s) => s.processType === ADDON_PROCESS_TYPE);
  }

  allLatest(): LatestInstanceSample[] {
    return [...this.latest.values()];
  }

  ownerTotals(): OwnerTotals[] {
    return [...this.totals.values()];
  }

  exitsOf(instanceId: string): number {
    return this.exitsTotal.get(instanceId) ?? 0;
  }

  requestsSince(projectId: string, serviceId: string, sinceMs: number): { requests: number; seconds: number } | undefined {
    const w = (this.windows.get(`${projectId}/${serviceId}`) ?? []).filter((e) => e.atMs > sinceMs && e.seconds > 0);
    if (w.length === 0) return undefined;
    return { requests: w.reduce((a, e) => a + e.requests, 0), seconds: w.reduce((a, e) => a + e.seconds, 0) };
  }

  onSample(listener: (atMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  // A driver whose reads need no I/O (or answer from memory) would otherwise run the whole list in one turn of
  // the event loop: every worker lets I/O in after its share of YIELD_EVERY items (they run in step).
  const turn = Math.max(1, Math.ceil(YIELD_EVERY / limit));
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let done = 0; next < items.length; done++) {
      if (done > 0 && done % turn === 0) await nextTurn();
      await fn(items[next++]);
    }
  });
  await Promise.all(workers);
}
