/**
 * Uptime checks (the seed's monitoring service): a periodic GET of a service's public HTTP port through the
 * router, as a visitor would make it (`Host: <port>--<service>--<project>.<domain>`). A 2xx or 3xx answer
 * within the timeout is a success. After `failureThreshold` failures in a row the check is `down`: an event
 * (kind `uptime`, reason `Down`) is recorded and the integrations it names get `uptime:down`; the first
 * success after that is `up` again, with `uptime:up`. Configured through native routes (the Northflank API
 * has no such resource): see docs/alerts.md.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import type { Store } from '../../store/store.ts';
import type { AlertsRepo, UptimeCheckRecord, UptimeCheckSpec } from '../../store/alerts-repo.ts';
import type { AuthService, Principal } from '../../services/auth.ts';
import { ValidationError, type FieldProblem } from '../../errors/errors.ts';
import { portDns } from '../../domain/hosts.ts';
import { RESOURCE_ID_PATTERN } from '../../domain/ids.ts';
import type { AlertDispatcher } from './alert-dispatcher.ts';

export interface UptimeCheckInput {
  id?: string;
  serviceId: string;
  port: string;
  path?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  notificationIds?: string[];
}

export type UptimeCheckView = UptimeCheckRecord;

export class UptimeChecksService {
  constructor(
    private readonly store: Store,
    private readonly repo: AlertsRepo,
    private readonly auth: AuthService,
  ) {}

  private async problems(projectId: string, spec: UptimeCheckSpec): Promise<FieldProblem[]> {
    const out: FieldProblem[] = [];
    const svc = await this.store.services.find(projectId, spec.serviceId);
    if (!svc) out.push({ field: 'serviceId', rule: 'exists', message: `service '${spec.serviceId}' not found in project '${projectId}'` });
    else {
      const port = svc.spec.ports?.find((p) => p.name === spec.port);
      if (!port) out.push({ field: 'port', rule: 'exists', message: `service '${spec.serviceId}' has no port named '${spec.port}'` });
      else if (!port.public || (port.protocol ?? 'HTTP') !== 'HTTP') out.push({ field: 'port', rule: 'public-http', message: `port '${spec.port}' is not a public HTTP port` });
    }
    if (spec.timeoutSeconds >= spec.intervalSeconds) out.push({ field: 'timeoutSeconds', rule: 'range', message: 'shorter than intervalSeconds' });
    for (const [i, id] of spec.notificationIds.entries()) if (!(await this.repo.findNotification(id))) out.push({ field: `notificationIds.${i}`, rule: 'exists', message: `notification integration '${id}' not found` });
    return out;
  }

  private specOf(input: UptimeCheckInput, cur?: UptimeCheckSpec): UptimeCheckSpec {
    return {
      serviceId: input.serviceId ?? cur?.serviceId,
      port: input.port ?? cur?.port,
      path: input.path ?? cur?.path ?? '/',
      intervalSeconds: input.intervalSeconds ?? cur?.intervalSeconds ?? 60,
      timeoutSeconds: input.timeoutSeconds ?? cur?.timeoutSeconds ?? 10,
      failureThreshold: input.failureThreshold ?? cur?.failureThreshold ?? 3,
      notificationIds: input.notificationIds ?? cur?.notificationIds ?? [],
    };
  }

  async list(caller: Principal, projectId: string): Promise<UptimeCheckView[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.repo.listChecks(projectId);
  }

  async get(caller: Principal, projectId: string, id: string): Promise<UptimeCheckView> {
    this.auth.authorize(caller, projectId, 'read');
    return this.repo.getCheck(projectId, id);
  }

  async create(caller: Principal, projectId: string, input: UptimeCheckInput): Promise<UptimeCheckView> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const id = input.id ?? `${input.serviceId}-${input.port}`;
    if (!RESOURCE_ID_PATTERN.test(id)) throw ValidationError.one('id', 'pattern', 'lower-case letters, digits and single hyphens, starting with a letter');
    const spec = this.specOf(input);
    const problems = await this.problems(projectId, spec);
    if (problems.length) throw new ValidationError(problems);
    return this.repo.createCheck(projectId, id, spec);
  }

  async update(caller: Principal, projectId: string, id: string, input: Partial<UptimeCheckInput>): Promise<UptimeCheckView> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.repo.getCheck(projectId, id);
    const spec = this.specOf(input as UptimeCheckInput, cur.spec);
    const problems = await this.problems(projectId, spec);
    if (problems.length) throw new ValidationError(problems);
    return this.repo.updateCheckSpec(projectId, id, spec);
  }

  async delete(caller: Principal, projectId: string, id: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    await this.repo.deleteCheck(projectId, id);
  }
}

/** Runs every check when its interval has passed since its last run. */
export class UptimeChecker {
  private timer?: NodeJS.Timeout;
  private readonly running = new Set<string>();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly repo: AlertsRepo,
    private readonly alerts: AlertDispatcher,
    private readonly opts: { domain: string; routerPort: () => number; timeScale: number; logger: Logger },
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.min(1000, 1000 * this.opts.timeScale)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.running.size) await new Promise((r) => setTimeout(r, 20));
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let checks: UptimeCheckRecord[];
    try {
      checks = await this.repo.listChecks();
    } catch {
      return;
    }
    const now = Date.now();
    for (const c of checks) {
      const key = `${c.projectId}/${c.id}`;
      if (this.running.has(key)) continue;
      if (c.lastCheckedAt && now - Date.parse(c.lastCheckedAt) < c.spec.intervalSeconds * 1000 * this.opts.timeScale) continue;
      this.running.add(key);
      void this.run(c)
        .catch((err) => this.opts.logger.warn({ check: key, err: (err as Error).message }, 'uptime check failed to run'))
        .finally(() => this.running.delete(key));
    }
  }

  /** One GET through the router. node:http, not fetch: fetch does not send a Host header of our choosing. */
  private probe(c: UptimeCheckRecord): Promise<{ ok: boolean; code: number | null; error: string | null }> {
    const host = portDns(this.opts.domain, c.projectId, c.spec.serviceId, c.spec.port);
    return new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: this.opts.routerPort(), path: c.spec.path, headers: { host }, agent: false, timeout: c.spec.timeoutSeconds * 1000 }, (res) => {
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          const ok = code >= 200 && code < 400;
          resolve({ ok, code, error: ok ? null : `HTTP ${code}` });
        });
        res.on('error', (err) => resolve({ ok: false, code: res.statusCode ?? null, error: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${c.spec.timeoutSeconds} s`)));
      req.on('error', (err) => resolve({ ok: false, code: null, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    });
  }

  private async run(c: UptimeCheckRecord): Promise<void> {
    const r = await this.probe(c);
    const failures = r.ok ? 0 : c.consecutiveFailures + 1;
    let state = c.state;
    let transition: 'down' | 'up' | undefined;
    if (r.ok) {
      if (state === 'down') transition = 'up';
      state = 'up';
    } else if (failures >= c.spec.failureThreshold && state !== 'down') {
      state = 'down';
      transition = 'down';
    }
    await this.repo.recordCheck(c.projectId, c.id, { state, consecutiveFailures: failures, lastStatusCode: r.code, lastError: r.error });
    if (!transition) return;
    const url = `http://${portDns(this.opts.domain, c.projectId, c.spec.serviceId, c.spec.port)}${c.spec.path}`;
    const message = transition === 'down' ? `uptime check ${c.id}: ${url} failed ${failures} times in a row (last: ${r.error})` : `uptime check ${c.id}: ${url} answers again (HTTP ${r.code})`;
    await this.store.events.append({ projectId: c.projectId, serviceId: c.spec.serviceId, kind: 'uptime', reason: transition === 'down' ? 'Down' : 'Up', message });
    await this.alerts.alert(c.spec.notificationIds, c.projectId, {
      event: `uptime:${transition}`,
      data: { projectId: c.projectId, serviceId: c.spec.serviceId, check: c.id, url, state, consecutiveFailures: failures, lastStatusCode: r.code, lastError: r.error, message },
    });
  }
}
