/**
 * Request schemas of the `/v1` addon routes, from `@northflank/js-client`'s CreateAddonData, PatchAddonData,
 * ScaleAddonData, BackupAddonData and UpdateAddonVersionData: field names, enums and limits as typed there.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import { P } from './patterns.ts';
import { Enum } from './enum.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const AddonName = Type.String({ minLength: 3, maxLength: 39, pattern: P.serviceName, description: 'The name of the addon.' });
const Description = Type.String({ maxLength: 200, description: 'A description of the addon.' });
const Tags = Type.Array(Type.String({ maxLength: 39 }), { maxItems: 50 });
const Plan = Type.String({ minLength: 1, maxLength: 100, description: 'The ID of the deployment plan to use.' });
const Storage = Type.Integer({ minimum: 1, maximum: 1_048_576, description: 'The size of the addon storage, in megabytes.' });
const Replicas = Type.Integer({ minimum: 0, maximum: 100, description: 'The number of addon replicas to run.' });
const IpPolicies = Type.Array(strict({ addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }), action: Enum(['ALLOW', 'DENY']) }), { maxItems: 100 });

export const REDIS_MAX_MEMORY_POLICIES = ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu', 'allkeys-random', 'volatile-random', 'volatile-ttl', 'volatile-lrm', 'allkeys-lrm'] as const;

const TypeSpecificSettings = strict({
  redisMaxMemoryPolicy: Opt(Enum(REDIS_MAX_MEMORY_POLICIES, { description: 'Redis only: Key eviction policy at memory pressure.' })),
  redisSentinelEnabled: Opt(Type.Boolean()),
  postgresqlWalLevel: Opt(Enum(['replica', 'logical'])),
  postgresqlSupabaseMode: Opt(Type.Boolean()),
  postgresqlConnectionPoolerEnabled: Opt(Type.Boolean()),
  postgresqlConnectionPoolerReplicas: Opt(Type.Integer({ minimum: 0, maximum: 100 })),
  postgresqlReadConnectionPoolerEnabled: Opt(Type.Boolean()),
  postgresqlReadConnectionPoolerReplicas: Opt(Type.Integer({ minimum: 0, maximum: 100 })),
  postgresqlImportMode: Opt(Type.Boolean()),
  mysqlHaModeEnabled: Opt(Type.Boolean()),
  mysqlRouterReplicas: Opt(Type.Integer({ minimum: 0, maximum: 100 })),
});

export const BackupSchedule = strict({
  scheduling: strict({
    interval: Enum(['hourly', 'daily', 'weekly']),
    minute: Type.Array(Type.Integer({ minimum: 0, maximum: 59 }), { maxItems: 60 }),
    hour: Opt(Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { maxItems: 24 })),
    day: Opt(Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { maxItems: 7 })),
  }),
  backupType: Enum(['dump', 'snapshot']),
  customDestinationId: Opt(Type.String({ maxLength: 100 })),
  additionalDestinations: Opt(Type.Array(Type.Unknown(), { maxItems: 10 })),
  compressionType: Opt(Enum(['gz', 'zstd'])),
  retentionTime: Type.Integer({ minimum: 1, maximum: 3650 }),
});

const Metadata = strict({ labels: Opt(Type.Unknown()), annotations: Opt(Type.Unknown()) });

const common = {
  description: Opt(Description),
  tags: Opt(Tags),
  tlsEnabled: Opt(Type.Boolean({ description: 'Enables access to the addon via TLS (if supported by the addon type).' })),
  externalAccessEnabled: Opt(Type.Boolean({ description: 'Enables external access to the addon via TLS (if supported by the addon type).' })),
  ipPolicies: Opt(IpPolicies),
  typeSpecificSettings: Opt(TypeSpecificSettings),
  backupSchedules: Opt(Type.Array(BackupSchedule, { maxItems: 10 })),
  metadata: Opt(Metadata),
  stageId: Opt(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
};

export const CreateAddon = strict({
  name: AddonName,
  projectId: Opt(Type.String({ maxLength: 100 })),
  type: Type.String({ minLength: 1, maxLength: 100, description: 'The identifier for the type of addon (see GET /v1/addon-types).' }),
  infrastructure: Opt(strict({ architecture: Opt(Enum(['x86', 'arm'])) })),
  version: Type.String({ minLength: 1, maxLength: 100, description: "The version: a full version, a major version, 'latest' or '<major>-latest'." }),
  billing: strict({
    deploymentPlan: Plan,
    storageClass: Opt(Type.String({ maxLength: 100 })),
    storage: Storage,
    replicas: Replicas,
    zonalRedundancy: Opt(strict({ type: Opt(Enum(['required', 'disabled'])), minZones: Opt(Type.Integer({ minimum: 1, maximum: 10 })) })),
  }),
  source: Opt(Type.Unknown({ description: 'Fork source backup for the addon: { projectId?, addonId, backupId } or { backupUid }.' })),
  customCredentials: Opt(strict({ dbName: Opt(Type.String({ minLength: 1, maxLength: 63, description: 'Custom database name.' })) })),
  ...common,
});

export const PatchAddon = strict({
  version: Opt(Type.String({ minLength: 1, maxLength: 100 })),
  billing: Opt(strict({ deploymentPlan: Opt(Plan), storageClass: Opt(Type.String({ maxLength: 100 })), storage: Opt(Storage), replicas: Opt(Replicas) })),
  ...common,
});

export const ScaleAddon = strict({ deploymentPlan: Opt(Plan), storage: Opt(Storage), replicas: Opt(Replicas) });

export const UpdateAddonVersion = strict({ version: Type.String({ minLength: 1, maxLength: 100, description: 'The version to upgrade the addon to.' }) });

export const BackupAddon = strict({
  name: Opt(Type.String({ minLength: 1, maxLength: 100, description: 'The name of the backup.' })),
  backupType: Opt(Enum(['dump', 'snapshot'], { description: "The type of backup to perform ('dump' here; snapshots are not available)." })),
  compressionType: Opt(Enum(['gz', 'zstd'])),
  customDestinationId: Opt(Type.String({ maxLength: 100 })),
  additionalDestinations: Opt(Type.Array(Type.Unknown(), { maxItems: 10 })),
});

export const RestoreOptions = Type.Object({
  sourceProjectId: Opt(Type.String({ maxLength: 100 })),
  sourceAddonId: Opt(Type.String({ maxLength: 100 })),
});

export const ImportAddonBackup = strict({
  name: Opt(Type.String({ minLength: 1, maxLength: 100, description: 'The name of the backup the import makes.' })),
  connectionString: Opt(Type.String({ minLength: 1, maxLength: 2048, description: 'A database connection string, e.g. postgresql://user:password@host:5432/db.' })),
  importAllDatabases: Opt(Type.Boolean()),
  compressionType: Opt(Enum(['gz', 'zstd'])),
  customDestinationId: Opt(Type.String({ maxLength: 100 })),
  importUrl: Opt(Type.String({ minLength: 1, maxLength: 2048, description: 'An http(s) URL of a dump of the addon\'s type (gzipped or not) to download, store as a backup and restore.' })),
});
