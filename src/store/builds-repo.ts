import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { NotFoundError } from '../errors/errors.ts';

export type BuildStatus = 'QUEUED' | 'BUILDING' | 'SUCCESS' | 'FAILURE' | 'ABORTED';

export interface BuildRecord {
  id: string;
  projectId: string;
  serviceId: string;
  sha: string;
  branch: string | null;
  /** where the source comes from: `git:<url>` or `bundle:<path>` */
  source: string;
  status: BuildStatus;
  artifactDir: string | null;
  /** the image of a Dockerfile build, tagged per build and kept by the container engine; null for a buildpack build */
  image: string | null;
  processes: Record<string, string> | null;
  error: string | null;
  logPath: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  version: number;
}

function toRecord(r: Database['builds']): BuildRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    serviceId: r.service_id,
    sha: r.sha,
    branch: r.branch,
    source: r.source,
    status: r.status as BuildStatus,
    artifactDir: r.artifact_dir,
    image: r.image ?? null,
    processes: r.processes ? JSON.parse(r.processes) : null,
    error: r.error,
    logPath: r.log_path,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    version: r.version,
  };
}

export class BuildsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(b: { id: string; projectId: string; serviceId: string; sha: string; branch: string | null; source: string; logPath: string }): Promise<BuildRecord> {
    const row: Database['builds'] = {
      id: b.id,
      project_id: b.projectId,
      service_id: b.serviceId,
      sha: b.sha,
      branch: b.branch,
      source: b.source,
      status: 'QUEUED',
      artifact_dir: null,
      image: null,
      processes: null,
      error: null,
      log_path: b.logPath,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      version: 1,
    };
    await this.db.insertInto('builds').values(row).execute();
    return toRecord(row);
  }

  async get(id: string): Promise<BuildRecord> {
    const row = await this.db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('build', id);
    return toRecord(row);
  }

  async find(id: string): Promise<BuildRecord | undefined> {
    const row = await this.db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(projectId: string, serviceId: string, limit = 50): Promise<BuildRecord[]> {
    const rows = await this.db
      .selectFrom('builds')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('service_id', '=', serviceId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /** A successful build of exactly this source in this service: the cache hit that makes a rebuild free. */
  async findSuccessful(projectId: string, serviceId: string, sha: string): Promise<BuildRecord | undefined> {
    const row = await this.db
      .selectFrom('builds')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('service_id', '=', serviceId)
      .where('sha', '=', sha)
      .where('status', '=', 'SUCCESS')
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async listByStatus(statuses: BuildStatus[]): Promise<BuildRecord[]> {
    const rows = await this.db.selectFrom('builds').selectAll().where('status', 'in', statuses).orderBy('created_at').execute();
    return rows.map(toRecord);
  }

  /**
   * Move a build between states only from the state the caller saw (QUEUED → BUILDING → SUCCESS/FAILURE):
   * returns false if someone else moved it first, so two workers never run the same build.
   */
  async transition(id: string, from: BuildStatus, to: BuildStatus, fields: { artifactDir?: string; image?: string; processes?: Record<string, string>; error?: string } = {}): Promise<boolean> {
    const now = new Date().toISOString();
    const res = await this.db
      .updateTable('builds')
      .set({
        status: to,
        ...(to === 'BUILDING' ? { started_at: now } : {}),
        ...(to === 'SUCCESS' || to === 'FAILURE' || to === 'ABORTED' ? { finished_at: now } : {}),
        ...(fields.artifactDir !== undefined ? { artifact_dir: fields.artifactDir } : {}),
        ...(fields.image !== undefined ? { image: fields.image } : {}),
        ...(fields.processes !== undefined ? { processes: JSON.stringify(fields.processes) } : {}),
        ...(fields.error !== undefined ? { error: fields.error } : {}),
      })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async deleteForService(projectId: string, serviceId: string): Promise<void> {
    await this.db.deleteFrom('builds').where('project_id', '=', projectId).where('service_id', '=', serviceId).execute();
  }
}
