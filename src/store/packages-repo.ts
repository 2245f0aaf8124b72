/** Uploaded source packages: one row per package, its upload state and the digest that keys its build. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { NotFoundError } from '../errors/errors.ts';

export type PackageState = 'AWAITING_UPLOAD' | 'PROCESSING_UPLOAD' | 'READY' | 'FAILED' | 'EXPIRED';

export interface PackageRecord {
  id: string;
  projectId: string;
  serviceId: string;
  type: 'bits';
  state: PackageState;
  /** sha256 of the stored source bundle, once uploaded */
  digest: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

function toRecord(r: Database['packages']): PackageRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    serviceId: r.service_id,
    type: r.type as 'bits',
    state: r.state as PackageState,
    digest: r.digest,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class PackagesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(p: { id: string; projectId: string; serviceId: string }): Promise<PackageRecord> {
    const now = new Date().toISOString();
    const row: Database['packages'] = { id: p.id, project_id: p.projectId, service_id: p.serviceId, type: 'bits', state: 'AWAITING_UPLOAD', digest: null, error: null, created_at: now, updated_at: now };
    await this.db.insertInto('packages').values(row).execute();
    return toRecord(row);
  }

  async find(id: string): Promise<PackageRecord | undefined> {
    const row = await this.db.selectFrom('packages').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async get(id: string): Promise<PackageRecord> {
    const p = await this.find(id);
    if (!p) throw new NotFoundError('package', id);
    return p;
  }

  /** Newest first. */
  async list(projectId: string, serviceId: string): Promise<PackageRecord[]> {
    const rows = await this.db.selectFrom('packages').selectAll().where('project_id', '=', projectId).where('service_id', '=', serviceId).orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toRecord);
  }

  async setState(id: string, state: PackageState, fields: { digest?: string; error?: string | null } = {}): Promise<void> {
    await this.db
      .updateTable('packages')
      .set({ state, updated_at: new Date().toISOString(), ...(fields.digest !== undefined ? { digest: fields.digest } : {}), ...(fields.error !== undefined ? { error: fields.error } : {}) })
      .where('id', '=', id)
      .execute();
  }
}
