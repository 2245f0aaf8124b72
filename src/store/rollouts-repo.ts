import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.ts';
import { NotFoundError } from '../errors/errors.ts';
import { insertNumbered } from './next-number.ts';
import type { CanaryAnalysis, CanaryStep } from '../domain/canary.ts';

/** Where a canary's analysis stands (kept with the rollout, so a restarted control plane carries on). */
export interface CanaryAnalysisState {
  stepIndex: number;
  /** when the current window began (the step reached, or the last measurement) */
  windowStart: string;
  failures: number;
}

export type RolloutStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'SUPERSEDED' | 'CANCELED';

/** How a rollout moves: rolling with at most `maxInFlight` new instances starting at once, or canary steps. */
export interface RolloutOptions {
  maxInFlight?: number;
  /** this rollout's `minReadySeconds` (default: the platform's SLIPWAY_MIN_READY_SECONDS) */
  minReadySeconds?: number;
  canarySteps?: CanaryStep[];
  /** native canaries: measure each step and continue or abort without a person */
  canaryAnalysis?: CanaryAnalysis;
  canaryAnalysisState?: CanaryAnalysisState;
  /** keep old instances running this long after every new one is ready (a redeploy's overlap) */
  overlapSeconds?: number;
}
export type RolloutKind = 'deploy' | 'rollback' | 'restart' | 'return';

export interface RolloutRecord {
  id: string;
  serviceKey: string;
  number: number;
  fromReleaseId: string | null;
  toReleaseId: string;
  kind: RolloutKind;
  strategy: string;
  status: RolloutStatus;
  message: string | null;
  deadlineAt: string;
  createdAt: string;
  finishedAt: string | null;
  options: RolloutOptions;
  stepIndex: number;
  paused: boolean;
}

export interface RolloutEvent {
  id: number;
  message: string;
  createdAt: string;
}

function toRecord(r: Database['rollouts']): RolloutRecord {
  return {
    id: r.id,
    serviceKey: r.service_id,
    number: r.number,
    fromReleaseId: r.from_release_id,
    toReleaseId: r.to_release_id,
    kind: r.kind as RolloutKind,
    strategy: r.strategy,
    status: r.status as RolloutStatus,
    message: r.message,
    deadlineAt: r.deadline_at,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    options: r.options ? JSON.parse(r.options) : {},
    stepIndex: r.step_index,
    paused: r.paused === 1,
  };
}

function toEvent(r: Selectable<Database['rollout_events']>): RolloutEvent {
  return { id: Number(r.id), message: r.message, createdAt: r.created_at };
}

/** The releases a list of rollouts names: each one's target, and the release it came from. */
export function releaseIdsOf(rollouts: RolloutRecord[]): string[] {
  return rollouts.flatMap((r) => (r.fromReleaseId ? [r.toReleaseId, r.fromReleaseId] : [r.toReleaseId]));
}

/** Rollouts and their ordered events: the record of every move of a service between releases. */
export class RolloutsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Start a rollout; any rollout of the service still in progress is superseded by it. */
  async begin(r: { serviceKey: string; fromReleaseId: string | null; toReleaseId: string; kind: RolloutKind; strategy: string; deadlineAt: string; options?: RolloutOptions }): Promise<RolloutRecord> {
    const now = new Date().toISOString();
    for (const prev of await this.active(r.serviceKey)) {
      await this.finish(prev.id, 'SUPERSEDED', 'superseded by a newer rollout');
    }
    const row: Omit<Database['rollouts'], 'id' | 'number'> = {
      service_id: r.serviceKey,
      from_release_id: r.fromReleaseId,
      to_release_id: r.toReleaseId,
      kind: r.kind,
      strategy: r.strategy,
      status: 'IN_PROGRESS',
      message: null,
      deadline_at: r.deadlineAt,
      created_at: now,
      finished_at: null,
      options: r.options ? JSON.stringify(r.options) : null,
      step_index: 0,
      paused: 0,
    };
    const taken = await insertNumbered(this.db, 'rollouts', row, `${r.serviceKey.replace('/', '--')}--rollout-`);
    return toRecord({ ...row, ...taken });
  }

  async active(serviceKey: string): Promise<RolloutRecord[]> {
    const rows = await this.db.selectFrom('rollouts').selectAll().where('service_id', '=', serviceKey).where('status', '=', 'IN_PROGRESS').orderBy('number').execute();
    return rows.map(toRecord);
  }

  async list(serviceKey: string, limit = 50): Promise<RolloutRecord[]> {
    const rows = await this.db.selectFrom('rollouts').selectAll().where('service_id', '=', serviceKey).orderBy('number', 'desc').limit(limit).execute();
    return rows.map(toRecord);
  }

  /** A service's rollout by its number (unique per service), however old. */
  async byNumber(serviceKey: string, number: number): Promise<RolloutRecord | undefined> {
    const row = await this.db.selectFrom('rollouts').selectAll().where('service_id', '=', serviceKey).where('number', '=', number).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async get(id: string): Promise<RolloutRecord> {
    const row = await this.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('rollout', id);
    return toRecord(row);
  }

  /** Close a rollout once; returns false if it was already closed. */
  async finish(id: string, status: Exclude<RolloutStatus, 'IN_PROGRESS'>, message: string): Promise<boolean> {
    const res = await this.db
      .updateTable('rollouts')
      .set({ status, message, finished_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('status', '=', 'IN_PROGRESS')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) await this.event(id, `${status.toLowerCase()}: ${message}`);
    return Number(res.numUpdatedRows) === 1;
  }

  /** Pause a canary at its current step, or resume it at the next one with a fresh deadline. */
  async setStep(id: string, fields: { stepIndex?: number; paused: boolean; deadlineAt?: string }): Promise<void> {
    await this.db
      .updateTable('rollouts')
      .set({ paused: fields.paused ? 1 : 0, ...(fields.stepIndex !== undefined ? { step_index: fields.stepIndex } : {}), ...(fields.deadlineAt ? { deadline_at: fields.deadlineAt } : {}) })
      .where('id', '=', id)
      .where('status', '=', 'IN_PROGRESS')
      .execute();
  }

  /** Record where a canary's analysis stands (merged into the rollout's options), while it runs. */
  async setAnalysisState(id: string, state: CanaryAnalysisState | undefined): Promise<void> {
    const row = await this.db.selectFrom('rollouts').select(['options']).where('id', '=', id).executeTakeFirst();
    if (!row) return;
    const options: RolloutOptions = row.options ? JSON.parse(row.options) : {};
    if (state) options.canaryAnalysisState = state;
    else delete options.canaryAnalysisState;
    await this.db.updateTable('rollouts').set({ options: JSON.stringify(options) }).where('id', '=', id).where('status', '=', 'IN_PROGRESS').execute();
  }

  async event(rolloutId: string, message: string): Promise<void> {
    await this.db.insertInto('rollout_events').values({ rollout_id: rolloutId, message, created_at: new Date().toISOString() }).execute();
  }

  async lastEvent(rolloutId: string): Promise<RolloutEvent | undefined> {
    const r = await this.db.selectFrom('rollout_events').selectAll().where('rollout_id', '=', rolloutId).orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r ? toEvent(r) : undefined;
  }

  /** The events of several rollouts in one query, each rollout's in order (every id given has a list). */
  async eventsOf(rolloutIds: string[]): Promise<Map<string, RolloutEvent[]>> {
    const out = new Map<string, RolloutEvent[]>(rolloutIds.map((id) => [id, []]));
    if (rolloutIds.length === 0) return out;
    const rows = await this.db.selectFrom('rollout_events').selectAll().where('rollout_id', 'in', rolloutIds).orderBy('id').execute();
    for (const r of rows) out.get(r.rollout_id)?.push(toEvent(r));
    return out;
  }

  async events(rolloutId: string, afterId = 0): Promise<RolloutEvent[]> {
    const rows = await this.db.selectFrom('rollout_events').selectAll().where('rollout_id', '=', rolloutId).where('id', '>', afterId).orderBy('id').execute();
    return rows.map(toEvent);
  }

  async deleteForService(serviceKey: string): Promise<void> {
    const ids = (await this.db.selectFrom('rollouts').select('id').where('service_id', '=', serviceKey).execute()).map((r) => r.id);
    if (ids.length) await this.db.deleteFrom('rollout_events').where('rollout_id', 'in', ids).execute();
    await this.db.deleteFrom('rollouts').where('service_id', '=', serviceKey).execute();
  }
}
