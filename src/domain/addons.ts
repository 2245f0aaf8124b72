/**
 * Addons: database and cache servers (PostgreSQL, MySQL served by MariaDB, Redis) that slipway runs as
 * supervised instances, with credentials, backups and restores. Pure model and rules; the engines that run
 * each type live in `src/addons/engines/`.
 */
import crypto from 'node:crypto';

export const ADDON_TYPES = ['postgresql', 'mysql', 'redis'] as const;
export type AddonType = (typeof ADDON_TYPES)[number];

/** Northflank's addon statuses, as `@northflank/js-client` types them. */
export const ADDON_STATUSES = [
  'preDeployment',
  'triggerAllocation',
  'allocating',
  'postDeployment',
  'running',
  'paused',
  'scaling',
  'upgrading',
  'resetting',
  'backup',
  'restore',
  'failed',
  'error',
  'errorAllocating',
  'deleting',
  'deleted',
] as const;
export type AddonStatus = (typeof ADDON_STATUSES)[number];

/** Northflank's backup and restore statuses. */
export type AddonJobStatus = 'scheduled' | 'in-progress' | 'completed' | 'aborting' | 'aborted' | 'failed' | 'not-supported';

/** The process type that labels an addon's instances (the service and job controllers leave them alone). */
export const ADDON_PROCESS_TYPE = 'addon';

/** Replicas per addon: the primary and up to two read replicas (PostgreSQL streaming, Redis replicaof, MariaDB binlog + GTID). */
export const ADDON_REPLICAS = { min: 1, max: 3, default: 1 } as const;
export function replicaRange(_type: AddonType): { min: number; max: number } {
  return { min: ADDON_REPLICAS.min, max: ADDON_REPLICAS.max };
}
/** Storage sizes offered, in MB (advisory on the process runtime: the data directory is not quota-limited). */
export const ADDON_STORAGE_OPTIONS = [1024, 2048, 4096, 6144, 8192, 16384, 32768, 65536] as const;
export const ADDON_STORAGE_DEFAULT = 1024;

export interface AddonSpec {
  name: string;
  description?: string;
  tags?: string[];
  type: AddonType;
  /** the full version running, e.g. `15.20` (resolved from `latest`, `15`, `15-latest` at create) */
  version: string;
  billing: { deploymentPlan: string; storage: number; replicas: number; storageClass?: string };
  tlsEnabled: boolean;
  externalAccessEnabled: boolean;
  typeSpecificSettings?: Record<string, unknown>;
  /** the database name (PostgreSQL, MySQL); Northflank's `customCredentials.dbName` */
  dbName?: string;
  /** a pipeline stage, stored and returned (no pipelines yet: no effect), as on services, jobs and groups */
  stageId?: string;
  /** Kubernetes labels and annotations, stored and returned (not applied: addons run on the process runtime) */
  metadata?: { labels?: unknown; annotations?: unknown };
}

/** Connection secrets of an addon, sealed at rest. */
export interface AddonSecrets {
  username: string;
  password: string;
  /** legacy: a password rotation asked for before rotations changed logins (read as `next` with the same user) */
  nextPassword?: string;
  /** a rotation asked for and not yet applied: the login the server gets beside the current one, then promoted */
  next?: AddonLogin;
  /**
   * The login a rotation replaced: still valid on the server while an instance that was given it runs, then
   * retired (its password removed). `since` is when it was replaced.
   */
  retiring?: AddonLogin & { since: string };
}

/** A user name and password the addon's server accepts. */
export interface AddonLogin {
  username: string;
  password: string;
}

/**
 * The login a rotation moves to. PostgreSQL and MariaDB hold one password per user, so a rotation alternates
 * between two users (`u…` and `u…_b`), both superusers of the addon: the old one keeps working until it is
 * retired. Redis users may hold several passwords: its `default` user keeps its name.
 */
export function rotatedUsername(type: AddonType, username: string): string {
  if (type === 'redis') return username;
  return username.endsWith('_b') ? username.slice(0, -2) : `${username}_b`;
}

export interface AddonRecord {
  projectId: string;
  id: string;
  spec: AddonSpec;
  status: AddonStatus;
  statusMessage?: string;
  /** the TCP port the server listens on at 127.0.0.1; stable across restarts while it stays free */
  port: number;
  /** the ports of the read replicas (ordinal 1, 2…), as they were allocated */
  replicaPorts: number[];
  paused: boolean;
  /** bumped by a restart request: part of the instance's identity, so a new one replaces the old */
  generation: number;
  /** set once the server was initialised and its database created */
  initialized: boolean;
  deleting: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface AddonBackupRecord {
  projectId: string;
  addonId: string;
  id: string;
  name: string;
  backupType: 'dump' | 'snapshot';
  status: AddonJobStatus;
  /** file name under the addon's backups directory */
  file: string;
  sizeBytes: number;
  addonType: AddonType;
  addonVersion: string;
  sourceType: 'sameAddon' | 'externalDump' | 'liveInstance' | 'fileUpload';
  /** the schedule that made it, and when it expires unless retained */
  scheduleId?: string;
  expiresAt?: string;
  retained?: boolean;
  error?: string;
  createdAt: string;
  completedAt?: string;
  /** the backup destination it is stored on (read from its placement; absent: the data directory) */
  destinationId?: string;
}

export interface AddonRestoreRecord {
  projectId: string;
  addonId: string;
  id: string;
  backupId: string;
  status: AddonJobStatus;
  error?: string;
  createdAt: string;
  completedAt?: string;
}

export interface BackupScheduleSpec {
  scheduling: { interval: 'hourly' | 'daily' | 'weekly'; minute: number[]; hour?: number[]; day?: number[] };
  backupType: 'dump' | 'snapshot';
  retentionTime: number;
  compressionType?: 'gz' | 'zstd';
  /** a backup destination (docs/addons.md, "Backup destinations") the schedule's backups are written to */
  customDestinationId?: string;
}

export interface AddonBackupSchedule {
  id: string;
  projectId: string;
  addonId: string;
  spec: BackupScheduleSpec;
  lastRunAt: string;
  createdAt: string;
}

/** What is wrong with a schedule's fields for its interval (Northflank's rules), by field. */
export function scheduleProblems(s: BackupScheduleSpec, prefix: string): { field: string; rule: string; message: string }[] {
  const out: { field: string; rule: string; message: string }[] = [];
  const { interval, minute, hour, day } = s.scheduling;
  if (!minute.length) out.push({ field: `${prefix}.scheduling.minute`, rule: 'minItems', message: 'at least one minute' });
  if (interval === 'hourly' && hour?.length) out.push({ field: `${prefix}.scheduling.hour`, rule: 'interval', message: 'hourly schedules take no hours' });
  if (interval !== 'hourly' && !hour?.length) out.push({ field: `${prefix}.scheduling.hour`, rule: 'required', message: `${interval} schedules need at least one hour` });
  if (interval !== 'weekly' && day?.length) out.push({ field: `${prefix}.scheduling.day`, rule: 'interval', message: `${interval} schedules take no days` });
  if (interval === 'weekly' && !day?.length) out.push({ field: `${prefix}.scheduling.day`, rule: 'required', message: 'weekly schedules need at least one day (0 is Monday)' });
  return out;
}

/** Whether a UTC minute is one of the schedule's slots (Northflank's days: 0 is Monday). */
export function isSlot(s: BackupScheduleSpec, at: Date): boolean {
  const { interval, minute, hour, day } = s.scheduling;
  if (!minute.includes(at.getUTCMinutes())) return false;
  if (interval !== 'hourly' && !hour?.includes(at.getUTCHours())) return false;
  if (interval === 'weekly' && !day?.includes((at.getUTCDay() + 6) % 7)) return false;
  return true;
}

/** The latest slot after `since` and at or before `now` (whole minutes), if any; looks back at most 8 days. */
export function lastSlot(s: BackupScheduleSpec, since: Date, now: Date): Date | undefined {
  const floor = Math.max(since.getTime(), now.getTime() - 8 * 86_400_000);
  for (let t = Math.floor(now.getTime() / 60_000) * 60_000; t > floor; t -= 60_000) {
    if (isSlot(s, new Date(t))) return new Date(t);
  }
  return undefined;
}

/** Internal key of an addon: `${projectId}/${addonId}`. */
export function addonKey(projectId: string, addonId: string): string {
  return `${projectId}/${addonId}`;
}

export function parseAddonKey(key: string): { projectId: string; addonId: string } {
  const i = key.indexOf('/');
  return { projectId: key.slice(0, i), addonId: key.slice(i + 1) };
}

/**
 * The runtime instance id of an addon's server. Ids never hold `--` (RESOURCE_ID_PATTERN), so the double
 * hyphens keep project `a-b` + addon `c` apart from project `a` + addon `b-c`.
 */
export function addonInstanceId(projectId: string, addonId: string, ordinal = 0): string {
  return `addon--${projectId}--${addonId}--${ordinal}`;
}

/**
 * Resolves a requested version against the installed ones: `latest`, a major (`15`), `15-latest`, or a full
 * version. Returns undefined when nothing installed matches.
 */
export function resolveVersion(requested: string, installed: readonly string[]): string | undefined {
  const sorted = [...installed].sort(compareVersions).reverse();
  if (requested === 'latest') return sorted[0];
  const base = requested.endsWith('-latest') ? requested.slice(0, -'-latest'.length) : requested;
  return sorted.find((v) => v === base || v.startsWith(`${base}.`));
}

export function majorOf(version: string): string {
  return version.split('.')[0];
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * The connection keys of an addon, as Northflank names them in connection details and secret-group links
 * (`HOST`, `PORT`, `USERNAME`, `PASSWORD`, `DATABASE`, the type's URIs, `TLS_ENABLED`).
 */
export function connectionKeys(type: AddonType, c: { host: string; port: number; username: string; password: string; database?: string; tlsEnabled: boolean; replicaPorts?: number[] }): Record<string, string> {
  const user = encodeURIComponent(c.username);
  const pass = encodeURIComponent(c.password);
  const hostPort = `${c.host}:${c.port}`;
  const readPort = c.replicaPorts?.[0];
  // Read replicas (slipway's keys): their ports, and a URI to the first one.
  const read: Record<string, string> = readPort ? { READ_PORTS: c.replicaPorts!.join(',') } : {};
  // With TLS: PostgreSQL's sslmode, MySQL's ssl-mode, Redis' rediss:// scheme (TLS without certificate checks).
  const tls = c.tlsEnabled;
  const pgQuery = tls ? '?sslmode=require' : '';
  const redisScheme = tls ? 'rediss' : 'redis';
  if (readPort && type === 'postgresql') read.POSTGRES_URI_READ = `postgresql://${user}:${pass}@${c.host}:${readPort}/${encodeURIComponent(c.database ?? '')}${pgQuery}`;
  if (readPort && type === 'mysql') read.MYSQL_URI_READ = `mysql://${user}:${pass}@${c.host}:${readPort}/${encodeURIComponent(c.database ?? '')}${tls ? '?ssl-mode=REQUIRED' : ''}`;
  if (readPort && type === 'redis') read.REDIS_REPLICA_URL = `${redisScheme}://default:${pass}@${c.host}:${readPort}`;
  const common = { HOST: c.host, PORT: String(c.port), USERNAME: c.username, PASSWORD: c.password, TLS_ENABLED: String(c.tlsEnabled), ...read };
  switch (type) {
    case 'postgresql': {
      const db = c.database ?? '';
      return {
        ...common,
        DATABASE: db,
        ADMIN_USERNAME: c.username,
        ADMIN_PASSWORD: c.password,
        POSTGRES_URI: `postgresql://${user}:${pass}@${hostPort}/${encodeURIComponent(db)}${pgQuery}`,
        POSTGRES_URI_ADMIN: `postgresql://${user}:${pass}@${hostPort}/postgres${pgQuery}`,
        JDBC_POSTGRES_URI: `jdbc:postgresql://${hostPort}/${encodeURIComponent(db)}?user=${user}&password=${pass}${tls ? '&ssl=true&sslmode=require' : ''}`,
      };
    }
    case 'mysql': {
      const db = c.database ?? '';
      return {
        ...common,
        DATABASE: db,
        MYSQL_URI: `mysql://${user}:${pass}@${hostPort}/${encodeURIComponent(db)}${tls ? '?ssl-mode=REQUIRED' : ''}`,
        JDBC_MYSQL_URI: `jdbc:mysql://${hostPort}/${encodeURIComponent(db)}?user=${user}&password=${pass}${tls ? '&sslMode=REQUIRED' : ''}`,
      };
    }
    case 'redis':
      // Redis authenticates its `default` user with the password (requirepass).
      return {
        ...common,
        USERNAME: 'default',
        REDIS_MASTER_URL: `${redisScheme}://default:${pass}@${hostPort}`,
        REDIS_CONNECT_COMMAND: `redis-cli -h ${c.host} -p ${c.port} --user default --askpass${tls ? ' --tls --insecure' : ''}`,
      };
  }
}

/**
 * The external connection keys of an addon with external access (Northflank's `EXTERNAL_` keys beside the
 * internal ones, which stay as they are): the same login through the router's host and port.
 */
export function externalConnectionKeys(type: AddonType, c: { host: string; port: number; username: string; password: string; database?: string; tlsEnabled: boolean }): Record<string, string> {
  const keys = connectionKeys(type, c);
  const pick = (names: string[]) => Object.fromEntries(names.filter((n) => keys[n] !== undefined).map((n) => [`EXTERNAL_${n}`, keys[n]]));
  const uris = { postgresql: ['POSTGRES_URI', 'POSTGRES_URI_ADMIN', 'JDBC_POSTGRES_URI'], mysql: ['MYSQL_URI', 'JDBC_MYSQL_URI'], redis: ['REDIS_MASTER_URL', 'REDIS_CONNECT_COMMAND'] }[type];
  return pick(['HOST', 'PORT', ...uris]);
}

/** The URI schemes a live import of each type reads from. */
export const IMPORT_SCHEMES: Record<AddonType, string[]> = { postgresql: ['postgres:', 'postgresql:'], mysql: ['mysql:'], redis: ['redis:'] };

/** typeSpecificSettings each type honours, and the values that ask for what is not built here. */
export const TYPE_SETTINGS: Record<string, { type: AddonType; unsupportedWhen?: (v: unknown) => boolean }> = {
  redisMaxMemoryPolicy: { type: 'redis' },
  redisSentinelEnabled: { type: 'redis', unsupportedWhen: (v) => v === true },
  postgresqlWalLevel: { type: 'postgresql' },
  postgresqlSupabaseMode: { type: 'postgresql', unsupportedWhen: (v) => v === true },
  postgresqlConnectionPoolerEnabled: { type: 'postgresql', unsupportedWhen: (v) => v === true },
  postgresqlConnectionPoolerReplicas: { type: 'postgresql', unsupportedWhen: (v) => typeof v === 'number' && v > 0 },
  postgresqlReadConnectionPoolerEnabled: { type: 'postgresql', unsupportedWhen: (v) => v === true },
  postgresqlReadConnectionPoolerReplicas: { type: 'postgresql', unsupportedWhen: (v) => typeof v === 'number' && v > 0 },
  postgresqlImportMode: { type: 'postgresql', unsupportedWhen: (v) => v === true },
  mysqlHaModeEnabled: { type: 'mysql', unsupportedWhen: (v) => v === true },
  mysqlRouterReplicas: { type: 'mysql', unsupportedWhen: (v) => typeof v === 'number' && v > 0 },
};

export const DB_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** A strong password: 32 characters of [A-Za-z0-9] (about 190 bits), safe in any URI or config file. */
export function generatePassword(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < 32) {
    for (const b of crypto.randomBytes(48)) if (b < 248 && out.length < 32) out += alphabet[b % 62];
  }
  return out;
}

/** `POSTGRES_URI` → `postgresUri`: the `/v1` credentials' `secrets` spelling. */
export function camelKey(key: string): string {
  return key.toLowerCase().replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
}
