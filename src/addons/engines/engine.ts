/**
 * What it takes to run one addon type: the versions installed here, the server's command and the files it
 * reads, readiness, first-start initialisation, dumps and restores. One module per type implements it.
 */
import type { AddonLogin, AddonRecord, AddonSecrets, AddonType } from '../../domain/addons.ts';
import type { ServerTls } from '../tls.ts';

export interface EngineContext {
  addon: AddonRecord;
  secrets: AddonSecrets;
  /** the addon's data directory on the host (owned by the server's user) */
  dataDir: string;
  /** where the server sees `dataDir` (the sandbox's mount point, or `dataDir` itself without a sandbox) */
  mountPath: string;
  /** memory of the addon's plan, in MB */
  memoryMb: number;
  /** the unprivileged user the server runs as */
  user: { uid: number; gid: number };
  host: string;
  /** set for a read replica: the primary it follows (its data directory and port are the replica's own) */
  replicaOf?: { host: string; port: number };
  /** set when the addon has `tlsEnabled`: the server takes TLS connections only */
  tls?: ServerTls;
}

/** Stopping and starting the server, for a restore that must swap data files while it is down. */
export interface ServerControl {
  stop(): Promise<void>;
  /** start and wait until the server answers; throws if it does not */
  start(): Promise<void>;
}

export interface AddonEngine {
  readonly type: AddonType;
  readonly name: string;
  readonly description: string;
  readonly features: { backupsDump: boolean; customDBName: boolean; importDump: boolean; importLive: boolean; scaleReplicas: boolean; tls: boolean; externalAccess: boolean; forkAddon: boolean };
  /** full versions of the server installed on this machine, newest first (empty: not installed) */
  installed(): string[];
  /** the database created for the user, when the type has one */
  database(addon: AddonRecord): string | undefined;
  /**
   * Write what the server reads at its next start (configuration, first-start secrets) into the data
   * directory, owned by the server's user. Secret-bearing files are removed by `afterReady`.
   */
  prepare(ctx: EngineContext): Promise<void>;
  /** the shell script the server's instance runs (as the unprivileged user), ending in `exec <server>` */
  script(ctx: EngineContext): string;
  /** whether the server answers with the addon's credentials */
  ping(ctx: EngineContext): Promise<boolean>;
  /** once the server answers: remove first-start secrets from disk, create the database (idempotent) */
  afterReady(ctx: EngineContext): Promise<void>;
  /** write a logical dump of the addon's data to `file` */
  dump(ctx: EngineContext, file: string): Promise<void>;
  /**
   * Make the addon's data exactly the dump's. Restores into a fresh database (or data directory) and swaps
   * only once that succeeded: a failed restore leaves the data as it was.
   */
  restore(ctx: EngineContext, file: string, server: ServerControl): Promise<void>;
  /** write a logical dump of another server's database, named by a connection string, to `file` (a live import) */
  dumpFrom(source: URL, file: string): Promise<void>;
  /**
   * Make `login` valid beside the logins the server accepts now (connected with `ctx.secrets`): a new user,
   * a superuser like the current one (PostgreSQL, MariaDB), or another password of the same user (Redis).
   * For a user that exists, its password becomes `login.password`. Idempotent.
   */
  addLogin(ctx: EngineContext, login: AddonLogin): Promise<void>;
  /** Make `login` stop working (connected with `ctx.secrets`, another login) and end its open sessions. */
  retireLogin(ctx: EngineContext, login: AddonLogin): Promise<void>;
  /** whether each server (a Redis replica) holds its own logins: add and retire them on the replicas too */
  readonly loginsPerServer: boolean;
  /** a read replica told to follow its primary with `login` from now on (its connection to the primary) */
  followLogin?(replica: EngineContext, login: AddonLogin): Promise<void>;
  /** file extension of a dump */
  readonly dumpExtension: string;
}
