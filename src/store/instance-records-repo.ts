import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface InstanceRecord {
  id: string;
  serviceKey: string;
  releaseId: string;
  ordinal: number;
  restarts: number;
  lastExitCode: number | null;
  lastExitAt: string | null;
  notBefore: string | null;
  createdAt: string;
}

function toRecord(r: Database['instance_records']): InstanceRecord {
  return {
    id: r.id,
    serviceKey: r.service_id,
    releaseId: r.release_id,
    ordinal: r.ordinal,
    restarts: r.restarts,
    lastExitCode: r.last_exit_code,
    lastExitAt: r.last_exit_at,
    notBefore: r.not_before,
    createdAt: r.created_at,
  };
}

/**
 * What the controllers remember about instance slots beyond what the runtime shows: restart counts and
 * crash back-off, which must survive a control-plane restart so a crash loop is never hidden by it.
 */
export class InstanceRecordsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async listForService(serviceKey: string): Promise<InstanceRecord[]> {
    return (await this.db.selectFrom('instance_records').selectAll().where('service_id', '=', serviceKey).execute()).map(toRecord);
  }

  async ensure(r: { id: string; serviceKey: string; releaseId: string; ordinal: number }): Promise<void> {
    // One statement: a record that exists is left as it is.
    await this.db
      .insertInto('instance_records')
      .values({ id: r.id, service_id: r.serviceKey, release_id: r.releaseId, ordinal: r.ordinal, restarts: 0, last_exit_code: null, last_exit_at: null, not_before: null, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async recordExit(id: string, exitCode: number | null, restarts: number, notBefore: string): Promise<void> {
    await this.db.updateTable('instance_records').set({ last_exit_code: exitCode, last_exit_at: new Date().toISOString(), restarts, not_before: notBefore }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('instance_records').where('id', '=', id).execute();
  }

  async deleteForService(serviceKey: string): Promise<void> {
    await this.db.deleteFrom('instance_records').where('service_id', '=', serviceKey).execute();
  }
}
