/**
 * Log sinks (Northflank's `/v1/integrations/log-sinks`): account-level, so only an admin token reads or
 * changes them. Each sink ships every line of the services it covers (all projects, or `projects` when
 * `restricted`) through its own SinkShipper. Reads never carry a password or token; they add `delivery`
 * (lines sent, dropped, buffered, the last error) to Northflank's fields.
 */
import type { Logger } from 'pino';
import type { LogSinkRecord, LogSinkSpec, LogSinksRepo } from '../../store/log-sinks-repo.ts';
import type { AuthService, Principal } from '../../services/auth.ts';
import { UnsupportedError, ValidationError } from '../../errors/errors.ts';
import { idFromName, RESOURCE_ID_PATTERN } from '../../domain/ids.ts';
import type { LogCollector } from '../logs/log-collector.ts';
import { redactSinkData, SINK_TYPES_AVAILABLE, sinkDataProblems } from './sink-formats.ts';
import { SinkShipper, type SinkDelivery } from './sink-shipper.ts';

export interface LogSinkInput {
  name: string;
  description?: string;
  restricted?: boolean;
  projects?: string[];
  restrictions?: unknown;
  options?: Record<string, boolean>;
  sinkType: string;
  sinkData: Record<string, unknown>;
}

export interface LogSinkUpdate {
  restricted?: boolean;
  projects?: string[];
  options?: Record<string, boolean>;
  resumeLogSink?: boolean;
  sinkType: string;
  sinkData?: Record<string, unknown>;
}

export interface LogSinkView {
  id: string;
  name: string;
  description?: string;
  restricted: boolean;
  projects: string[];
  status: 'paused' | 'running' | 'failing' | 'creating';
  options?: Record<string, boolean>;
  sinkType: string;
  sinkData: Record<string, unknown>;
  delivery: SinkDelivery;
  createdAt: string;
  updatedAt: string;
}

const STATS_EVERY_MS = 5000;

export class LogSinksService {
  private readonly shippers = new Map<string, SinkShipper>();
  private unsubscribe?: () => void;
  private statsTimer?: NodeJS.Timeout;

  constructor(
    private readonly repo: LogSinksRepo,
    private readonly auth: AuthService,
    private readonly collector: LogCollector,
    private readonly opts: { bufferLines: number; logger: Logger },
  ) {}

  async start(): Promise<void> {
    for (const rec of await this.repo.list()) this.ship(rec);
    this.unsubscribe = this.collector.subscribe((e) => {
      for (const s of this.shippers.values()) s.offer(e);
    });
    this.statsTimer = setInterval(() => void this.saveStats(), STATS_EVERY_MS);
    this.statsTimer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.statsTimer) clearInterval(this.statsTimer);
    await Promise.all([...this.shippers.values()].map((s) => s.stop()));
    await this.saveStats();
    // A later start (this replica taking the log lease back) ships afresh.
    this.shippers.clear();
  }

  private async saveStats(): Promise<void> {
    for (const s of this.shippers.values()) await this.repo.saveStats(s.id, s.stats()).catch(() => undefined);
  }

  private ship(rec: LogSinkRecord): void {
    const cur = this.shippers.get(rec.id);
    if (cur) return cur.update(rec);
    const s = new SinkShipper(rec, this.opts.bufferLines);
    this.shippers.set(rec.id, s);
    s.start();
  }

  view(rec: LogSinkRecord): LogSinkView {
    const s = this.shippers.get(rec.id);
    return {
      id: rec.id,
      name: rec.spec.name,
      ...(rec.spec.description !== undefined ? { description: rec.spec.description } : {}),
      restricted: rec.spec.restricted,
      projects: rec.spec.projects,
      status: s ? s.status() : rec.paused ? 'paused' : 'creating',
      ...(rec.spec.options ? { options: rec.spec.options } : {}),
      sinkType: rec.sinkType,
      sinkData: redactSinkData(rec.sinkData),
      delivery: s?.delivery() ?? { ...rec.stats, bufferedLines: 0, lastError: null, lastSentAt: null, failingSince: null },
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
    };
  }

  private admin(caller: Principal): void {
    this.auth.authorize(caller, null, 'own');
  }

  private check(sinkType: string, sinkData: Record<string, unknown>): void {
    if (!(SINK_TYPES_AVAILABLE as readonly string[]).includes(sinkType)) {
      throw new UnsupportedError([{ field: 'sinkType', rule: 'available', message: `'${sinkType}' sinks are not available here: use ${SINK_TYPES_AVAILABLE.map((t) => `'${t}'`).join(' or ')}` }]);
    }
    const problems = sinkDataProblems(sinkType, sinkData);
    if (problems.length) throw new ValidationError(problems);
  }

  async list(caller: Principal): Promise<LogSinkView[]> {
    this.admin(caller);
    return (await this.repo.list()).map((r) => this.view(r));
  }

  async get(caller: Principal, id: string): Promise<LogSinkView> {
    this.admin(caller);
    return this.view(await this.repo.get(id));
  }

  async create(caller: Principal, input: LogSinkInput): Promise<LogSinkView> {
    this.admin(caller);
    const id = idFromName(input.name);
    if (!RESOURCE_ID_PATTERN.test(id)) throw ValidationError.one('name', 'pattern', 'letters, digits, spaces and single hyphens, starting with a letter');
    this.check(input.sinkType, input.sinkData);
    if (await this.repo.find(id)) throw ValidationError.one('name', 'unique', `a log sink named '${input.name}' already exists`);
    const spec: LogSinkSpec = {
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      restricted: input.restricted ?? false,
      projects: input.projects ?? [],
      ...(input.restrictions !== undefined ? { restrictions: input.restrictions } : {}),
      ...(input.options ? { options: input.options } : {}),
    };
    const rec = await this.repo.create({ id, sinkType: input.sinkType, spec, sinkData: input.sinkData, paused: false });
    this.ship(rec);
    return this.view(rec);
  }

  /** Northflank's update: settings merged in (sinkData field by field, so a password need not be sent again). */
  async update(caller: Principal, id: string, u: LogSinkUpdate): Promise<LogSinkView> {
    this.admin(caller);
    const cur = await this.repo.get(id);
    if (u.sinkType !== cur.sinkType) throw ValidationError.one('sinkType', 'immutable', `the sink is a '${cur.sinkType}' sink: its type cannot change`);
    const sinkData = mergeDeep(cur.sinkData, u.sinkData ?? {});
    this.check(cur.sinkType, sinkData);
    const spec: LogSinkSpec = {
      ...cur.spec,
      ...(u.restricted !== undefined ? { restricted: u.restricted } : {}),
      ...(u.projects !== undefined ? { projects: u.projects } : {}),
      ...(u.options !== undefined ? { options: { ...cur.spec.options, ...u.options } } : {}),
    };
    const rec = await this.repo.update(id, { spec, sinkData, ...(u.resumeLogSink ? { paused: false } : {}) });
    this.ship(rec);
    return this.view(rec);
  }

  async setPaused(caller: Principal, id: string, paused: boolean): Promise<LogSinkView> {
    this.admin(caller);
    const rec = await this.repo.update(id, { paused });
    this.ship(rec);
    return this.view(rec);
  }

  async delete(caller: Principal, id: string): Promise<void> {
    this.admin(caller);
    await this.repo.delete(id);
    const s = this.shippers.get(id);
    this.shippers.delete(id);
    await s?.stop();
  }
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? mergeDeep(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
