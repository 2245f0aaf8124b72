/** The repositories, opened together over one database. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { openDatabase, type DialectName } from './dialect/dialect.ts';
import { SecretBox } from './secret-box.ts';
import { ProjectsRepo } from './projects-repo.ts';
import { ServicesRepo } from './services-repo.ts';
import { BuildsRepo } from './builds-repo.ts';
import { ReleasesRepo } from './releases-repo.ts';
import { TokensRepo } from './tokens-repo.ts';
import { InstanceRecordsRepo } from './instance-records-repo.ts';
import { EventsRepo } from './events-repo.ts';
import { RolloutsRepo } from './rollouts-repo.ts';
import { PackagesRepo } from './packages-repo.ts';
import { JobsRepo } from './jobs-repo.ts';
import { RegistryCredentialsRepo } from './registry-credentials-repo.ts';
import { SecretGroupsRepo } from './secret-groups-repo.ts';
import { TagsRepo } from './tags-repo.ts';
import { VolumesRepo } from './volumes-repo.ts';
import { AddonsRepo } from './addons-repo.ts';
import { BackupDestinationsRepo } from './backup-destinations-repo.ts';
import { LeasesRepo } from './leases-repo.ts';
import { checkSealingKey } from './cluster-meta-repo.ts';
import { BlobsRepo } from './blobs-repo.ts';

export interface Store {
  db: Kysely<Database>;
  dialect: DialectName;
  projects: ProjectsRepo;
  services: ServicesRepo;
  builds: BuildsRepo;
  releases: ReleasesRepo;
  tokens: TokensRepo;
  instances: InstanceRecordsRepo;
  events: EventsRepo;
  rollouts: RolloutsRepo;
  packages: PackagesRepo;
  jobs: JobsRepo;
  registryCredentials: RegistryCredentialsRepo;
  secretGroups: SecretGroupsRepo;
  tags: TagsRepo;
  volumes: VolumesRepo;
  addons: AddonsRepo;
  backupDestinations: BackupDestinationsRepo;
  leases: LeasesRepo;
  /** The same repositories over another handle on this database: a transaction (fenced writes use it). */
  withDb(db: Kysely<Database>): Store;
  blobs: BlobsRepo;
  close(): Promise<void>;
}

/**
 * Opens (and migrates) the database. Refuses, with SealingKeyMismatchError, a database whose secrets were
 * sealed with another key than `box`'s (`keySource` names where this one came from, for the message).
 */
export async function openStore(opts: { url?: string; sqlitePath?: string; box: SecretBox; keySource?: string; onIdleError?: (err: Error) => void }): Promise<Store> {
  const { db, dialect, close } = await openDatabase(opts);
  try {
    await checkSealingKey(db, opts.box.fingerprint(), opts.keySource ?? 'the given key');
  } catch (err) {
    await close();
    throw err;
  }
  return reposOver(db, dialect, opts.box, close);
}

function reposOver(db: Kysely<Database>, dialect: DialectName, box: SecretBox, close: () => Promise<void>): Store {
  return {
    db,
    dialect,
    projects: new ProjectsRepo(db),
    services: new ServicesRepo(db, box),
    builds: new BuildsRepo(db),
    releases: new ReleasesRepo(db, box),
    tokens: new TokensRepo(db),
    instances: new InstanceRecordsRepo(db),
    events: new EventsRepo(db),
    rollouts: new RolloutsRepo(db),
    packages: new PackagesRepo(db),
    jobs: new JobsRepo(db, box),
    registryCredentials: new RegistryCredentialsRepo(db, box),
    secretGroups: new SecretGroupsRepo(db, box),
    tags: new TagsRepo(db),
    volumes: new VolumesRepo(db),
    addons: new AddonsRepo(db, box),
    backupDestinations: new BackupDestinationsRepo(db, box),
    blobs: new BlobsRepo(db),
    leases: new LeasesRepo(db, dialect),
    withDb: (other) => reposOver(other, dialect, box, close),
    close,
  };
}
