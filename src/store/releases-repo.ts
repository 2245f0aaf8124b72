import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { NotFoundError } from '../errors/errors.ts';
import { insertNumbered } from './next-number.ts';
import type { ReleaseSpec, ReleaseRecord, ReleaseSecrets } from '../domain/release.ts';
import { joinSecrets, splitSecrets, type ServiceSecrets, type ServiceSpec } from '../domain/service.ts';

/** What a listing shows of a release: no spec, so nothing sealed is opened to read it. */
export type ReleaseHead = Pick<ReleaseRecord, 'id' | 'number' | 'buildId'>;

export class ReleasesRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(r: Database['releases']): ReleaseRecord {
    const open = JSON.parse(r.spec) as Omit<ReleaseSpec, 'env' | 'files'>;
    const secrets = this.box.open<ReleaseSecrets>(r.secrets);
    return {
      id: r.id,
      serviceKey: r.service_id,
      number: r.number,
      buildId: r.build_id,
      image: r.image,
      specHash: r.spec_hash,
      spec: { ...open, env: secrets.env, files: secrets.files },
      ...(r.service_spec && r.service_secrets ? { serviceSpec: joinSecrets(JSON.parse(r.service_spec), this.box.open<ServiceSecrets>(r.service_secrets)) } : {}),
      createdAt: r.created_at,
    };
  }

  /**
   * Append a release with the next number for the service, its id `<prefix><number>`: the highest number
   * read and the next inserted in one statement under a unique constraint, retried on collision, so
   * concurrent writers never share a number.
   * `serviceSpec` is the service spec the release was made from, kept (secrets sealed) for rollbacks.
   */
  async append(serviceKey: string, spec: ReleaseSpec, specHash: string, ids: { prefix: string }, serviceSpec?: ServiceSpec): Promise<ReleaseRecord> {
    const { env, files, ...open } = spec;
    const snapshot = serviceSpec ? splitSecrets(serviceSpec) : undefined;
    const row: Omit<Database['releases'], 'id' | 'number'> = {
      service_id: serviceKey,
      build_id: spec.buildId ?? null,
      image: spec.image ?? null,
      spec_hash: specHash,
      spec: JSON.stringify(open),
      secrets: this.box.seal({ env, files } satisfies ReleaseSecrets),
      service_spec: snapshot ? JSON.stringify(snapshot.open) : null,
      service_secrets: snapshot ? this.box.seal(snapshot.secrets) : null,
      created_at: new Date().toISOString(),
    };
    const taken = await insertNumbered(this.db, 'releases', row, ids.prefix);
    return this.toRecord({ ...row, ...taken });
  }

  async get(id: string): Promise<ReleaseRecord> {
    const row = await this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('release', id);
    return this.toRecord(row);
  }

  async find(id: string): Promise<ReleaseRecord | undefined> {
    const row = await this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  /** A service's release by its number (unique per service), however old. */
  async byNumber(serviceKey: string, number: number): Promise<ReleaseRecord | undefined> {
    const row = await this.db.selectFrom('releases').selectAll().where('service_id', '=', serviceKey).where('number', '=', number).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  /** These releases' numbers and builds, by id: read without opening their sealed parts. */
  async heads(ids: string[]): Promise<Map<string, ReleaseHead>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('releases').select(['id', 'number', 'build_id']).where('id', 'in', [...new Set(ids)]).execute();
    return new Map(rows.map((r) => [r.id, { id: r.id, number: r.number, buildId: r.build_id }]));
  }

  async list(serviceKey: string, limit = 100): Promise<ReleaseRecord[]> {
    const rows = await this.db.selectFrom('releases').selectAll().where('service_id', '=', serviceKey).orderBy('number', 'desc').limit(limit).execute();
    return rows.map((r) => this.toRecord(r));
  }

  async deleteForService(serviceKey: string): Promise<void> {
    await this.db.deleteFrom('releases').where('service_id', '=', serviceKey).execute();
  }
}
