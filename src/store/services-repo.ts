import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import { serviceGuid, serviceKey } from '../domain/ids.ts';
import {
  joinSecrets,
  splitSecrets,
  type DeploymentReason,
  type DeploymentStatus,
  type ServiceKind,
  type ServiceRecord,
  type ServiceSecrets,
  type ServiceSpec,
} from '../domain/service.ts';

export interface ServiceStatusPatch {
  deployStatus?: DeploymentStatus;
  deployReason?: DeploymentReason;
  deployMessage?: string | null;
  targetReleaseId?: string | null;
  stableReleaseId?: string | null;
  paused?: boolean;
}

/**
 * Services. The spec's secret parts are sealed at rest. `update` is conditional on the version read;
 * `setStatus` is the controllers' write and does not bump the user-facing version, so status updates
 * never make a user's concurrent edit fail.
 */
export class ServicesRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(row: Database['services']): ServiceRecord {
    const secrets = this.box.open<ServiceSecrets>(row.secrets);
    return {
      projectId: row.project_id,
      id: row.id,
      name: row.name,
      kind: row.kind as ServiceKind,
      spec: joinSecrets(JSON.parse(row.spec), secrets),
      version: row.version,
      paused: row.paused === 1,
      targetReleaseId: row.target_release_id,
      stableReleaseId: row.stable_release_id,
      deployStatus: row.deploy_status as DeploymentStatus,
      deployReason: row.deploy_reason as DeploymentReason,
      deployTransitionAt: row.deploy_transition_at,
      deployMessage: row.deploy_message,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async create(s: { projectId: string; id: string; kind: ServiceKind; spec: ServiceSpec }): Promise<ServiceRecord> {
    const now = new Date().toISOString();
    const { open, secrets } = splitSecrets(s.spec);
    const row: Database['services'] = {
      id: s.id,
      project_id: s.projectId,
      name: s.spec.name,
      kind: s.kind,
      spec: JSON.stringify(open),
      secrets: this.box.seal(secrets),
      version: 1,
      paused: 0,
      target_release_id: null,
      stable_release_id: null,
      deploy_status: 'PENDING',
      deploy_reason: 'DEPLOYING',
      deploy_transition_at: now,
      deploy_message: null,
      created_at: now,
      updated_at: now,
      guid: serviceGuid(s.projectId, s.id, now),
    };
    try {
      await this.db.insertInto('services').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`service '${s.id}' already exists in project '${s.projectId}'`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(projectId: string, id: string): Promise<ServiceRecord | undefined> {
    const row = await this.db.selectFrom('services').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  /**
   * What a controller pass reads first: the service, and whether it has a rollout in progress and a volume
   * attached, in one statement, so that a pass over an idle service reads neither of those tables (a resync
   * of 1,000 services made 4,000 round trips to the store where it now makes 2,000).
   */
  async findForPass(projectId: string, id: string): Promise<{ service: ServiceRecord; rolling: boolean; volumeAttached: boolean } | undefined> {
    const key = serviceKey(projectId, id);
    const row = await this.db
      .selectFrom('services')
      .selectAll('services')
      .select((eb) => [
        eb.exists(eb.selectFrom('rollouts').select('rollouts.id').where('rollouts.service_id', '=', key).where('rollouts.status', '=', 'IN_PROGRESS')).as('rolling'),
        eb.exists(eb.selectFrom('volumes').select('volumes.id').where('volumes.project_id', '=', projectId).where('volumes.attached_service_id', '=', id)).as('volume_attached'),
      ])
      .where('services.project_id', '=', projectId)
      .where('services.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const { rolling, volume_attached, ...service } = row;
    // PostgreSQL answers EXISTS with a boolean, SQLite with 0 or 1.
    return { service: this.toRecord(service), rolling: !!rolling, volumeAttached: !!volume_attached };
  }

  /**
   * Every service's key, kind and spec without its secret parts (nothing is decrypted), in one statement: for
   * the periodic work that looks for the few services it concerns (autoscaled ones, ones with a repository).
   */
  async listOpen(): Promise<{ projectId: string; id: string; kind: ServiceKind; spec: ServiceSpec }[]> {
    const rows = await this.db.selectFrom('services').select(['project_id', 'id', 'kind', 'spec']).execute();
    return rows.map((r) => ({ projectId: r.project_id, id: r.id, kind: r.kind as ServiceKind, spec: JSON.parse(r.spec) as ServiceSpec }));
  }

  /** The service with this GUID (domain/ids.ts serviceGuid), by its index. */
  async findByGuid(guid: string): Promise<ServiceRecord | undefined> {
    const row = await this.db.selectFrom('services').selectAll().where('guid', '=', guid).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(projectId: string, id: string): Promise<ServiceRecord> {
    const rec = await this.find(projectId, id);
    if (!rec) throw new NotFoundError('service', id);
    return rec;
  }

  async list(projectId: string, opts: { after?: string; limit: number }): Promise<ServiceRecord[]> {
    let q = this.db.selectFrom('services').selectAll().where('project_id', '=', projectId).orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** Every service key, for the controllers' resync. */
  async listKeys(): Promise<{ projectId: string; id: string }[]> {
    const rows = await this.db.selectFrom('services').select(['project_id', 'id']).execute();
    return rows.map((r) => ({ projectId: r.project_id, id: r.id }));
  }

  /** Replace the spec if the version is unchanged. */
  async update(projectId: string, id: string, expectedVersion: number, spec: ServiceSpec, status?: ServiceStatusPatch): Promise<ServiceRecord> {
    const now = new Date().toISOString();
    const { open, secrets } = splitSecrets(spec);
    // The row as written comes back with the update (one round trip, not a second read).
    const row = await this.db
      .updateTable('services')
      .set({
        name: spec.name,
        spec: JSON.stringify(open),
        secrets: this.box.seal(secrets),
        version: expectedVersion + 1,
        updated_at: now,
        ...this.statusColumns(status ?? {}, now),
      })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!row) {
      await this.get(projectId, id);
      throw new VersionConflictError(`service '${id}' was modified concurrently; retry`);
    }
    return this.toRecord(row);
  }

  private statusColumns(p: ServiceStatusPatch, now: string): Partial<Database['services']> {
    const cols: Partial<Database['services']> = {};
    if (p.deployStatus !== undefined) {
      cols.deploy_status = p.deployStatus;
      cols.deploy_transition_at = now;
    }
    if (p.deployReason !== undefined) cols.deploy_reason = p.deployReason;
    if (p.deployMessage !== undefined) cols.deploy_message = p.deployMessage;
    if (p.targetReleaseId !== undefined) cols.target_release_id = p.targetReleaseId;
    if (p.stableReleaseId !== undefined) cols.stable_release_id = p.stableReleaseId;
    if (p.paused !== undefined) cols.paused = p.paused ? 1 : 0;
    return cols;
  }

  /**
   * Controller/status write: no version check, no version bump. Returns the service as written (undefined
   * when it is gone or nothing was set).
   */
  async setStatus(projectId: string, id: string, patch: ServiceStatusPatch): Promise<ServiceRecord | undefined> {
    const cols = this.statusColumns(patch, new Date().toISOString());
    if (Object.keys(cols).length === 0) return undefined;
    const row = await this.db.updateTable('services').set(cols).where('project_id', '=', projectId).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  /**
   * A controller's status write computed from a snapshot: applied only while the service still has the
   * snapshot's target release and status transition, so a pass that read the service before a new rollout
   * began cannot overwrite that rollout's IN_PROGRESS with its own stale conclusion. Returns whether it applied.
   */
  async setStatusIfUnchanged(svc: Pick<ServiceRecord, 'projectId' | 'id' | 'targetReleaseId' | 'deployTransitionAt'>, patch: ServiceStatusPatch): Promise<boolean> {
    const cols = this.statusColumns(patch, new Date().toISOString());
    if (Object.keys(cols).length === 0) return false;
    let q = this.db.updateTable('services').set(cols).where('project_id', '=', svc.projectId).where('id', '=', svc.id);
    q = svc.targetReleaseId === null ? q.where('target_release_id', 'is', null) : q.where('target_release_id', '=', svc.targetReleaseId);
    const res = await q.where('deploy_transition_at', '=', svc.deployTransitionAt).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async delete(projectId: string, id: string): Promise<void> {
    const res = await this.db.deleteFrom('services').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('service', id);
  }
}
