/**
 * Reading metrics: series of a service or an addon over a range (the native metrics routes, the CLI, the
 * dashboard), and the Prometheus export of the latest numbers. Authorization: reading a project's metrics
 * needs read access to the project; the Prometheus export shows only the projects the token may see.
 */
import type { Principal } from '../../services/auth.ts';
import type { AuthService } from '../../services/auth.ts';
import type { Store } from '../../store/store.ts';
import type { MetricMarker, MetricsRepo } from '../../store/metrics-repo.ts';
import { DEFAULT_ADDON_METRICS, DEFAULT_SERVICE_METRICS } from './names.ts';
import { parseSeriesQuery, type SeriesQueryText } from './series-query.ts';
import { renderPrometheus, type PrometheusSource } from './prometheus-export.ts';

export interface Series {
  name: string;
  unit: string;
  kind: 'gauge' | 'count';
  /** the instance of an instance metric; null for the service's (or addon's) own */
  instance: string | null;
  /** [epoch seconds of the step's start, value]: a gauge's mean over the step, a count's sum */
  points: [number, number][];
  /** a gauge's highest sample in each step, aligned with points */
  max?: number[];
}

/** An instance's latest sampled usage (MetricsReads.latestUsage). */
export interface InstanceUsage {
  cpuCores: number;
  memoryBytes: number;
  /** epoch seconds of the sampling step the numbers are from */
  at: number;
}

export interface SeriesAnswer {
  from: number;
  to: number;
  step: number;
  /** `raw` (the sampling period) or `1m` (roll-ups, for ranges older than the raw retention) */
  resolution: 'raw' | '1m';
  series: Series[];
  /** services: rollouts and scaling in the range, to mark on the time axis */
  markers?: MetricMarker[];
}

export class MetricsReads {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly repo: MetricsRepo,
    private readonly source: PrometheusSource,
    private readonly opts: { intervalSeconds: number; rawRetentionSeconds: number },
  ) {}

  async serviceSeries(caller: Principal, projectId: string, serviceId: string, q: SeriesQueryText): Promise<SeriesAnswer> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    const answer = await this.series('service', projectId, serviceId, q);
    return { ...answer, markers: await this.repo.markers(projectId, serviceId, answer.from, answer.to) };
  }

  async addonSeries(caller: Principal, projectId: string, addonId: string, q: SeriesQueryText): Promise<SeriesAnswer> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.addons.get(projectId, addonId);
    return this.series('addon', projectId, addonId, q);
  }

  /**
   * Each instance's latest CPU (in cores: 1 is one core busy) and resident memory of a service, from the
   * samples of the last few sampling periods; an instance not sampled yet (just started) is absent.
   */
  async latestUsage(caller: Principal, projectId: string, serviceId: string): Promise<Map<string, InstanceUsage>> {
    this.auth.authorize(caller, projectId, 'read');
    const step = Math.max(1, this.opts.intervalSeconds);
    const toTs = Date.now() / 1000 + 1;
    const buckets = await this.repo.query({ projectId, ownerKind: 'service', ownerId: serviceId, names: ['cpu_cores', 'memory_bytes'], tier: 0, fromTs: toTs - 3 * step - 1, toTs, stepSeconds: step });
    const out = new Map<string, InstanceUsage>();
    // Buckets come ordered by name, instance and time: the last one of each pair is its newest.
    for (const b of buckets) {
      if (!b.instanceId || b.count === 0) continue;
      const u = out.get(b.instanceId) ?? { cpuCores: 0, memoryBytes: 0, at: 0 };
      if (b.name === 'cpu_cores') u.cpuCores = b.sum / b.count;
      else u.memoryBytes = Math.round(b.sum / b.count);
      u.at = Math.max(u.at, b.ts);
      out.set(b.instanceId, u);
    }
    return out;
  }

  async prometheus(caller: Principal): Promise<string> {
    const visible = this.auth.visibleProjects(caller);
    return renderPrometheus(this.source, visible ? new Set(visible) : undefined, await this.restartCounts());
  }

  private async restartCounts(): Promise<Map<string, number>> {
    // Services keep their instances' restart counts in the store (they survive a control-plane restart).
    const out = new Map<string, number>();
    const rows = await this.store.db.selectFrom('instance_records').select(['id', 'restarts']).execute();
    for (const r of rows) out.set(r.id, Number(r.restarts));
    return out;
  }

  private async series(owner: 'service' | 'addon', projectId: string, ownerId: string, text: SeriesQueryText): Promise<SeriesAnswer> {
    const nowSeconds = Date.now() / 1000;
    const q = parseSeriesQuery(text, owner, { nowSeconds, minStepSeconds: Math.max(1, this.opts.intervalSeconds), defaultNames: owner === 'service' ? DEFAULT_SERVICE_METRICS : DEFAULT_ADDON_METRICS });
    // The raw tier when it still covers `from`; else the 1-minute roll-ups (steps of whole minutes).
    const raw = q.from >= nowSeconds - this.opts.rawRetentionSeconds;
    const step = raw ? q.stepSeconds : Math.max(60, Math.ceil(q.stepSeconds / 60) * 60);
    const from = Math.floor(q.from / step) * step;
    const buckets = await this.repo.query({ projectId, ownerKind: owner, ownerId, names: q.metrics.map((m) => m.name), tier: raw ? 0 : 1, fromTs: from, toTs: q.to, stepSeconds: step });
    const byKey = new Map<string, Series>();
    const kinds = new Map(q.metrics.map((m) => [m.name, m]));
    for (const b of buckets) {
      const m = kinds.get(b.name)!;
      const key = `${b.name}\u0000${b.instanceId}`;
      let s = byKey.get(key);
      if (!s) byKey.set(key, (s = { name: b.name, unit: m.unit, kind: m.kind, instance: b.instanceId || null, points: [], ...(m.kind === 'gauge' ? { max: [] } : {}) }));
      s.points.push([b.ts, m.kind === 'count' ? b.sum : b.count > 0 ? b.sum / b.count : 0]);
      s.max?.push(b.max);
    }
    return { from, to: q.to, step, resolution: raw ? 'raw' : '1m', series: [...byKey.values()] };
  }
}
