/**
 * Table types for Kysely. Both dialects store JSON as text, timestamps as ISO-8601 text and booleans as
 * 0/1 integers, so one repository layer runs unchanged on SQLite and PostgreSQL.
 */
import type { Generated } from 'kysely';

export interface TokensTable {
  id: string;
  name: string;
  /** sha256 of the token; the token itself is never stored */
  hash: string;
  role: string;
  project_id: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ProjectsTable {
  id: string;
  name: string;
  description: string | null;
  spec: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface ServicesTable {
  id: string;
  project_id: string;
  name: string;
  kind: string;
  /** the user's spec (Northflank body, secrets removed), JSON */
  spec: string;
  /** secret parts of the spec, sealed (see secret-box.ts) */
  secrets: string;
  version: number;
  paused: number;
  /** release the service should run; null until a build or image is available */
  target_release_id: string | null;
  /** last release that completed a rollout: the one to return to when a rollout fails */
  stable_release_id: string | null;
  deploy_status: string;
  deploy_reason: string;
  deploy_transition_at: string;
  deploy_message: string | null;
  created_at: string;
  updated_at: string;
  /** the service's GUID (domain/ids.ts serviceGuid: the CF face's app guid), unique and indexed; migration 0019 */
  guid: string | null;
}

export interface BuildsTable {
  id: string;
  project_id: string;
  service_id: string;
  /** commit SHA, or `bundle:<sha256>` for uploaded bundles: the cache key */
  sha: string;
  branch: string | null;
  source: string;
  status: string;
  artifact_dir: string | null;
  /** the image a Dockerfile build made (migration 0007); null for a buildpack build */
  image: string | null;
  processes: string | null;
  error: string | null;
  log_path: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  version: number;
}

export interface ReleasesTable {
  id: string;
  service_id: string;
  number: number;
  build_id: string | null;
  image: string | null;
  spec_hash: string;
  /** the instance-shaping spec, secrets removed, JSON */
  spec: string;
  secrets: string;
  /** the service spec the release was made from (migration 0008), secrets removed, JSON; null before it */
  service_spec: string | null;
  /** that spec's secret parts, sealed */
  service_secrets: string | null;
  created_at: string;
}

export interface InstanceRecordsTable {
  id: string;
  service_id: string;
  release_id: string;
  ordinal: number;
  restarts: number;
  last_exit_code: number | null;
  last_exit_at: string | null;
  /** crash back-off: do not start before this time */
  not_before: string | null;
  created_at: string;
}

export interface EventsTable {
  id: Generated<number>;
  project_id: string;
  service_id: string | null;
  kind: string;
  reason: string;
  message: string;
  created_at: string;
}

export interface RolloutsTable {
  id: string;
  service_id: string;
  number: number;
  from_release_id: string | null;
  to_release_id: string;
  /** deploy | rollback | restart | return (automatic return to the last good release) */
  kind: string;
  strategy: string;
  status: string;
  message: string | null;
  deadline_at: string;
  created_at: string;
  finished_at: string | null;
  /** JSON RolloutOptions */
  options: string | null;
  step_index: number;
  paused: number;
}

export interface RolloutEventsTable {
  id: Generated<number>;
  rollout_id: string;
  message: string;
  created_at: string;
}

export interface PackagesTable {
  id: string;
  project_id: string;
  service_id: string;
  type: string;
  state: string;
  digest: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface JobsTable {
  project_id: string;
  id: string;
  name: string;
  /** manual | cron */
  kind: string;
  /** the job's spec (Northflank body, runtime environment and files removed), JSON */
  spec: string;
  /** runtimeEnvironment and runtimeFiles, sealed (see secret-box.ts) */
  secrets: string;
  version: number;
  /** the last cron tick a scheduler claimed (ISO-8601) */
  last_tick_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface JobRunsTable {
  id: string;
  project_id: string;
  /** job | service (a one-off run of a service's release) */
  owner_kind: string;
  /** the job id, or the service id for a service run */
  job_id: string;
  number: number;
  /** PENDING | RUNNING | SUCCEEDED | FAILED */
  status: string;
  exit_code: number | null;
  attempts: number;
  /** what the run runs, resolved when it was created (artifact, command, plan, limits), JSON */
  spec: string;
  /** environment and files of the run, sealed */
  secrets: string;
  message: string | null;
  /** the cron tick that made the run; null for manual runs */
  schedule_tick: string | null;
  /** a failed attempt's retry waits until then */
  retry_at: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** directory holding each attempt's recorded output */
  log_path: string;
}

export interface RegistryCredentialsTable {
  id: string;
  name: string;
  /** the open fields (RegistryCredentialSpec), JSON */
  spec: string;
  /** `{ password }`, sealed (see secret-box.ts) */
  secret: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface AddonsTable {
  project_id: string;
  id: string;
  name: string;
  type: string;
  /** AddonSpec, JSON */
  spec: string;
  /** AddonSecrets (`{ username, password }`), sealed (see secret-box.ts) */
  secrets: string;
  status: string;
  status_message: string | null;
  port: number;
  /** JSON array of the read replicas' ports */
  replica_ports: string;
  paused: number;
  generation: number;
  initialized: number;
  deleting: number;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface AddonBackupsTable {
  id: string;
  project_id: string;
  addon_id: string;
  name: string;
  backup_type: string;
  status: string;
  file: string;
  size_bytes: number;
  addon_type: string;
  addon_version: string;
  source_type: string;
  schedule_id: string | null;
  expires_at: string | null;
  retained: number;
  /** a snapshot's `{ password }` of its moment, sealed */
  secrets: string | null;
  error: string | null;
  created_at: string;
  completed_at: string | null;
}

export interface AddonRestoresTable {
  id: string;
  project_id: string;
  addon_id: string;
  backup_id: string;
  status: string;
  error: string | null;
  created_at: string;
  completed_at: string | null;
}

export interface AddonBackupSchedulesTable {
  id: string;
  project_id: string;
  addon_id: string;
  /** AddonBackupSchedule's spec, JSON */
  spec: string;
  last_run_at: string;
  created_at: string;
}

export interface Database {
  backup_destinations: BackupDestinationsTable;
  backup_placements: BackupPlacementsTable;
  addons: AddonsTable;
  addon_backup_schedules: AddonBackupSchedulesTable;
  addon_backups: AddonBackupsTable;
  addon_restores: AddonRestoresTable;
  packages: PackagesTable;
  rollouts: RolloutsTable;
  rollout_events: RolloutEventsTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  services: ServicesTable;
  builds: BuildsTable;
  releases: ReleasesTable;
  instance_records: InstanceRecordsTable;
  events: EventsTable;
  jobs: JobsTable;
  job_runs: JobRunsTable;
  registry_credentials: RegistryCredentialsTable;
  secret_groups: SecretGroupsTable;
  resource_tags: ResourceTagsTable;
  volumes: VolumesTable;
  volume_backups: VolumeBackupsTable;
  metric_points: MetricPointsTable;
  metric_rollups: MetricRollupsTable;
  pipelines: PipelinesTable;
  release_flows: ReleaseFlowsTable;
  release_flow_runs: ReleaseFlowRunsTable;
}

/** Pipelines (migration 0014): `spec` is { description, stages, nfObjects }, JSON. */
export interface PipelinesTable {
  project_id: string;
  id: string;
  name: string;
  spec: string;
  created_at: string;
  updated_at: string;
}

/** A pipeline stage's release flow (migration 0014): the template as JSON; the webhook secret only hashed. */
export interface ReleaseFlowsTable {
  project_id: string;
  pipeline_id: string;
  stage: string;
  template: string;
  webhook_id: string;
  webhook_secret_hash: string;
  /** the git trigger's last seen head per repository and branch, JSON */
  trigger_state: string;
  created_at: string;
  updated_at: string;
}

/** Release flow runs (migration 0014): the template run, its inputs and every node's state, JSON. */
export interface ReleaseFlowRunsTable {
  id: string;
  project_id: string;
  pipeline_id: string;
  stage: string;
  number: number;
  name: string | null;
  description: string | null;
  status: string;
  concluded: number;
  template: string;
  inputs: string;
  nodes: string;
  restores_run_id: string | null;
  message: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  concluded_at: string | null;
}

/** Secret and configuration groups of a project (migration 0008). */
export interface SecretGroupsTable {
  project_id: string;
  id: string;
  name: string;
  /** the open fields (SecretGroupSpec), JSON */
  spec: string;
  /** variables and files, sealed (see secret-box.ts) */
  secrets: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface VolumesTable {
  id: string;
  project_id: string;
  /** random: names the volume's directory, so a re-created id never sees old data */
  uid: string;
  name: string;
  /** VolumeSpec, JSON */
  spec: string;
  attached_service_id: string | null;
  status: string;
  /** VolumeOperation, JSON; null when none runs */
  operation: string | null;
  usage_bytes: number | string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** Account-level resource tags (migration 0008): names services and jobs carry in `tags`. */
export interface ResourceTagsTable {
  id: string;
  name: string;
  /** the open fields (description, color, scheduling preferences), JSON */
  spec: string;
  created_at: string;
  updated_at: string;
}

export interface VolumeBackupsTable {
  id: string;
  project_id: string;
  volume_id: string;
  name: string;
  description: string | null;
  status: string;
  /** the volume's spec when taken, JSON */
  source: string;
  size_bytes: number | string | null;
  message: string | null;
  created_at: string;
  updated_at: string;
}

// Logs, log sinks and alerts (migration 0017), merged into Database here so the block stays in one place.
export interface Database {
  log_sinks: LogSinksTable;
  notification_integrations: NotificationIntegrationsTable;
  alert_deliveries: AlertDeliveriesTable;
  alert_cursors: AlertCursorsTable;
  uptime_checks: UptimeChecksTable;
}

/** Account-level log sinks (Northflank's `/v1/integrations/log-sinks`). */
export interface LogSinksTable {
  id: string;
  name: string;
  sink_type: string;
  /** the open fields (description, restricted, projects, options), JSON */
  spec: string;
  /** the whole sinkData, sealed (it holds passwords and tokens) */
  sink_data: string;
  paused: number;
  /** delivery counters { sentLines, droppedLines }, JSON, written now and then */
  stats: string;
  created_at: string;
  updated_at: string;
}

/** Account-level notification integrations (Northflank's `/v1/integrations/notifications`). */
export interface NotificationIntegrationsTable {
  id: string;
  name: string;
  type: string;
  webhook: string;
  /** sealed; null without one */
  secret: string | null;
  /** restricted, projects, restrictions, events; JSON */
  spec: string;
  created_at: string;
  updated_at: string;
}

/** The alert outbox and its history: one row per alert and integration. */
export interface AlertDeliveriesTable {
  id: string;
  notification_id: string;
  event_type: string;
  project_id: string | null;
  /** { event, data }, JSON */
  payload: string;
  /** pending | delivered | failed */
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface AlertCursorsTable {
  name: string;
  value: number | string;
}

/** Uptime checks of a service's public port. */
export interface UptimeChecksTable {
  project_id: string;
  id: string;
  /** UptimeCheckSpec, JSON */
  spec: string;
  /** unknown | up | down */
  state: string;
  consecutive_failures: number;
  last_checked_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** Metrics over time (migration 0015; src/observe/metrics/). */
export interface MetricPointsTable {
  /** 0: the sampler's interval; 1: 1-minute roll-ups */
  tier: number;
  /** epoch seconds: the sample's time (tier 0) or the minute's start (tier 1) */
  ts: number;
  project_id: string;
  /** `service` or `addon` */
  owner_kind: string;
  owner_id: string;
  /** '' for a service- or addon-level metric */
  instance_id: string;
  name: string;
  sum: number;
  count: number;
  max: number;
}

export interface MetricRollupsTable {
  tier: number;
  /** epoch seconds, exclusive */
  rolled_until: number;
}

/** S3-compatible backup destinations (migration 0013); `credentials` sealed. */
export interface BackupDestinationsTable {
  id: string;
  name: string;
  description: string | null;
  type: string;
  prefix: string;
  /** `{ accessKey, secretKey, bucketName, region, endpoint }`, sealed */
  credentials: string;
  created_at: string;
  updated_at: string;
}

/** Where a backup written to a destination lives (migration 0013). */
export interface BackupPlacementsTable {
  backup_id: string;
  destination_id: string;
  object_key: string;
  created_at: string;
}

/**
 * Leases (migration 0018): who runs each controller, shard of keys or singleton across control-plane
 * replicas. Times are milliseconds since the epoch on the database's clock, so replicas never compare
 * their own clocks. `epoch` grows by one on every takeover: it is the fencing token (docs/high-availability.md).
 */
export interface LeasesTable {
  name: string;
  holder: string;
  epoch: number;
  expires_at: number;
  acquired_at: number;
  renewed_at: number;
}

export interface Database {
  leases: LeasesTable;
}

/** Shared by control-plane replicas on one database (migration 0020, docs/high-availability.md). */
export interface Database {
  cluster_meta: { key: string; value: string };
  route_publications: RoutePublicationsTable;
  blobs: { name: string; digest: string; size: number; data: Buffer; created_at: string };
  log_lines: LogLinesTable;
  /** per replica and service: the instance views (JSON `InstanceView[]`) of what that replica's runtime runs */
  observed_instances: { node_id: string; service_key: string; views: string; updated_ms: number };
}

/** One row per replica: its routing table (JSON `Route[]`), bumped `version` on each change, `applied` the JSON map node → version it serves. */
export interface RoutePublicationsTable {
  node_id: string;
  routes: string;
  version: number;
  applied: string;
  heartbeat_ms: number;
}

export interface LogLinesTable {
  id: Generated<number>;
  project_id: string;
  service_id: string;
  instance_id: string;
  ts: string;
  ts_ms: number;
  stream: string;
  line: string;
}
