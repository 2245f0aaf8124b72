/**
 * Versioned schema migrations, in code so they ship with the package. Append only: a released migration
 * is never edited, a change is a new entry.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { DialectName } from './dialect/name.ts';
import { serviceGuid } from '../domain/ids.ts';

const migrations = (dialect: DialectName): Record<string, Migration> => ({
  '0001_core': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('services')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull())
        .addColumn('target_release_id', 'text')
        .addColumn('stable_release_id', 'text')
        .addColumn('deploy_status', 'text', (c) => c.notNull())
        .addColumn('deploy_reason', 'text', (c) => c.notNull())
        .addColumn('deploy_transition_at', 'text', (c) => c.notNull())
        .addColumn('deploy_message', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('services_pk', ['project_id', 'id'])
        .execute();
      // Service ids are unique per project; the internal key used everywhere else is `${project}/${id}`.
      await db.schema
        .createTable('builds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('sha', 'text', (c) => c.notNull())
        .addColumn('branch', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('artifact_dir', 'text')
        .addColumn('processes', 'text')
        .addColumn('error', 'text')
        .addColumn('log_path', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('builds_service').on('builds').columns(['project_id', 'service_id', 'created_at']).execute();
      await db.schema
        .createTable('releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('build_id', 'text')
        .addColumn('image', 'text')
        .addColumn('spec_hash', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('releases_service_number', ['service_id', 'number'])
        .execute();
      await db.schema
        .createTable('instance_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('ordinal', 'integer', (c) => c.notNull())
        .addColumn('restarts', 'integer', (c) => c.notNull())
        .addColumn('last_exit_code', 'integer')
        .addColumn('last_exit_at', 'text')
        .addColumn('not_before', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('instance_records_service').on('instance_records').column('service_id').execute();
      await db.schema
        .createTable('events')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('service_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_service').on('events').columns(['service_id', 'id']).execute();
    },
  },
  '0002_rollouts': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('from_release_id', 'text')
        .addColumn('to_release_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('deadline_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('rollouts_service_number', ['service_id', 'number'])
        .execute();
      await db.schema.createIndex('rollouts_service_status').on('rollouts').columns(['service_id', 'status']).execute();
      await db.schema
        .createTable('rollout_events')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('rollout_id', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('rollout_events_rollout').on('rollout_events').columns(['rollout_id', 'id']).execute();
    },
  },
  '0003_rollout_strategy': {
    async up(db: Kysely<any>) {
      // Canary steps and max-in-flight live in `options`; `step_index`/`paused` track a canary's progress.
      await db.schema.alterTable('rollouts').addColumn('options', 'text').execute();
      await db.schema.alterTable('rollouts').addColumn('step_index', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('rollouts').addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '0004_packages': {
    async up(db: Kysely<any>) {
      // Uploaded source packages (the Cloud Foundry face's `bits`): the upload's digest keys its build.
      await db.schema
        .createTable('packages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('digest', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('packages_service_fk', ['project_id', 'service_id'], 'services', ['project_id', 'id'], (c) => c.onDelete('cascade'))
        .execute();
      await db.schema.createIndex('packages_service_idx').on('packages').columns(['project_id', 'service_id', 'created_at']).execute();
    },
  },
  '0005_jobs': {
    async up(db: Kysely<any>) {
      // Jobs (manual and cron) and their runs. A run also records one-off runs of a service's release
      // (owner_kind 'service'). `last_tick_at` is the last cron tick a scheduler claimed (conditional update),
      // and the unique (owner, schedule_tick) keeps one tick from ever making two runs.
      await db.schema
        .createTable('jobs')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('last_tick_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('jobs_pk', ['project_id', 'id'])
        .execute();
      await db.schema
        .createTable('job_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('owner_kind', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('schedule_tick', 'text')
        .addColumn('retry_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('log_path', 'text', (c) => c.notNull())
        .addUniqueConstraint('job_runs_owner_number', ['project_id', 'owner_kind', 'job_id', 'number'])
        .addUniqueConstraint('job_runs_owner_tick', ['project_id', 'owner_kind', 'job_id', 'schedule_tick'])
        .execute();
      await db.schema.createIndex('job_runs_status_idx').on('job_runs').column('status').execute();
    },
  },
  '0006_registry_credentials': {
    async up(db: Kysely<any>) {
      // Saved registry credentials (account-wide, like Northflank's). `spec` holds the open fields (name,
      // provider, registry URL, username, scope, restrictions); `secret` the sealed password.
      await db.schema
        .createTable('registry_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0007_build_images': {
    async up(db: Kysely<any>) {
      // A Dockerfile build yields an image (kept by the container engine) instead of an artifact directory.
      await db.schema.alterTable('builds').addColumn('image', 'text').execute();
    },
  },
  '0008_secret_groups_and_tags': {
    async up(db: Kysely<any>) {
      // Secret groups belong to a project and go with it; their names are unique in it, as their ids are.
      await db.schema
        .createTable('secret_groups')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secret_groups_pk', ['project_id', 'id'])
        .addUniqueConstraint('secret_groups_name', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('resource_tags')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      },
    },
  '0009_volumes': {
    async up(db: Kysely<any>) {
      // Volumes (one per service at most: the partial uniqueness is the attached service, NULLs apart) and
      // their backups. `operation` holds the one operation that needs the service's instance stopped.
      await db.schema
        .createTable('volumes')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('uid', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('attached_service_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('operation', 'text')
        .addColumn('usage_bytes', 'bigint')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('volumes_pk', ['project_id', 'id'])
        .addUniqueConstraint('volumes_attached_service', ['project_id', 'attached_service_id'])
        .execute();
      await db.schema
        .createTable('volume_backups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('volume_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'bigint')
        .addColumn('message', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('volume_backups_volume_idx').on('volume_backups').columns(['project_id', 'volume_id']).execute();
      },
    },
  '0010_release_snapshots': {
    async up(db: Kysely<any>) {
      // Each release keeps the service spec it was made from, so a rollback (or the return after a failed
      // rollout) makes that spec the desired one again. Open fields as JSON, secret ones sealed; null for
      // releases made before this migration.
      await db.schema.alterTable('releases').addColumn('service_spec', 'text').execute();
      await db.schema.alterTable('releases').addColumn('service_secrets', 'text').execute();
      },
    },
  '0011_addons': {
    async up(db: Kysely<any>) {
      // Addons (database and cache servers), their backups and restores. `secrets` is sealed; `port` is the
      // server's stable local port; `generation` is bumped by a restart; `deleting` marks a delete in flight
      // (the controller stops the server, then removes the data, then the row).
      await db.schema
        .createTable('addons')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('replica_ports', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('paused', 'integer', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('initialized', 'integer', (c) => c.notNull())
        .addColumn('deleting', 'integer', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('addons_pk', ['project_id', 'id'])
        .execute();
      await db.schema
        .createTable('addon_backups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('addon_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('backup_type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer', (c) => c.notNull())
        .addColumn('addon_type', 'text', (c) => c.notNull())
        .addColumn('addon_version', 'text', (c) => c.notNull())
        .addColumn('source_type', 'text', (c) => c.notNull())
        .addColumn('schedule_id', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('retained', 'integer', (c) => c.notNull().defaultTo(0))
        // a snapshot keeps the server's own password of its moment, sealed: a restore reconnects with it
        .addColumn('secrets', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .execute();
      await db.schema.createIndex('addon_backups_addon_idx').on('addon_backups').columns(['project_id', 'addon_id', 'created_at']).execute();
      await db.schema
        .createTable('addon_restores')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('addon_id', 'text', (c) => c.notNull())
        .addColumn('backup_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .execute();
      // Backup schedules: `spec` is Northflank's schedule (scheduling, backupType, retentionTime…); `last_run_at`
      // is the last slot a backup was made for, so a slot never makes two.
      await db.schema
        .createTable('addon_backup_schedules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('addon_id', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('last_run_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('addon_restores_addon_idx').on('addon_restores').columns(['project_id', 'addon_id', 'created_at']).execute();
    },
  },
  '0014_pipelines_and_release_flows': {
    async up(db: Kysely<any>) {
      // Pipelines (Northflank's shape: stages and the services, jobs and addons in them, as JSON), a release flow
      // per stage (the whole template as JSON, with the webhook secret's hash and the git trigger's last seen
      // heads), and release flow runs. A run keeps the template it ran and every node's state (JSON): a node is
      // written `running` before its action is taken and the action's id (job run, backup, rollout) after it, so
      // a control plane killed in between finds a node it cannot confirm and fails it instead of acting twice.
      await db.schema
        .createTable('pipelines')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('pipelines_pk', ['project_id', 'id'])
        .execute();
      await db.schema
        .createTable('release_flows')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('webhook_id', 'text', (c) => c.notNull().unique())
        .addColumn('webhook_secret_hash', 'text', (c) => c.notNull())
        .addColumn('trigger_state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('release_flows_pk', ['project_id', 'pipeline_id', 'stage'])
        .execute();
      await db.schema
        .createTable('release_flow_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('concluded', 'integer', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('inputs', 'text', (c) => c.notNull())
        .addColumn('nodes', 'text', (c) => c.notNull())
        .addColumn('restores_run_id', 'text')
        .addColumn('message', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('concluded_at', 'text')
        .addUniqueConstraint('release_flow_runs_number', ['project_id', 'pipeline_id', 'stage', 'number'])
        .execute();
      await db.schema.createIndex('release_flow_runs_active').on('release_flow_runs').columns(['concluded', 'created_at']).execute();
    },
  },
  // Logs, log sinks and alerts (observe-logs): sinks and notification integrations are account-level, their
  // secrets sealed; deliveries are the alert outbox (retried from the store, so a restart loses none);
  // alert_cursors keeps the last event each reader has seen; uptime checks are per project.
  '0019_service_guid': {
    async up(db: Kysely<any>) {
      // The CF face finds an app by its GUID: an indexed column instead of deriving every service's GUID
      // on each request. Existing services get the GUID they always had (derived from key and creation time).
      await db.schema.alterTable('services').addColumn('guid', 'text').execute();
      const rows = (await db.selectFrom('services').select(['project_id', 'id', 'created_at']).execute()) as { project_id: string; id: string; created_at: string }[];
      for (const r of rows) await db.updateTable('services').set({ guid: serviceGuid(r.project_id, r.id, r.created_at) }).where('project_id', '=', r.project_id).where('id', '=', r.id).execute();
      await db.schema.createIndex('services_guid').on('services').column('guid').unique().execute();
    },
  },
  '0017_observe_logs_alerts': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('log_sinks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('sink_type', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('sink_data', 'text', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('stats', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('notification_integrations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('webhook', 'text', (c) => c.notNull())
        .addColumn('secret', 'text')
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('alert_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('notification_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .execute();
      await db.schema.createIndex('alert_deliveries_due_idx').on('alert_deliveries').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('alert_deliveries_notification_idx').on('alert_deliveries').columns(['notification_id', 'created_at']).execute();
      await db.schema
        .createTable('alert_cursors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('uptime_checks')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_checked_at', 'text')
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('uptime_checks_pk', ['project_id', 'id'])
        .execute();
    },
  },
  // Metrics over time (src/observe/metrics/, docs/metrics.md): one row per sample and metric. Tier 0 holds the
  // sampler's own interval (10 s by default) for a day; tier 1 the 1-minute roll-ups of it for 30 days. A row
  // keeps sum, count and max so roll-ups and reads at any step stay exact for counts and for means.
  '0015_metrics': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('metric_points')
        .addColumn('tier', 'integer', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('owner_kind', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('instance_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('sum', 'double precision', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('max', 'double precision', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('metric_points_owner_idx').on('metric_points').columns(['project_id', 'owner_kind', 'owner_id', 'tier', 'name', 'ts']).execute();
      await db.schema.createIndex('metric_points_tier_ts_idx').on('metric_points').columns(['tier', 'ts']).execute();
      // How far the 1-minute roll-up has gone (epoch seconds, exclusive), so a restart neither skips nor repeats a minute.
      await db.schema
        .createTable('metric_rollups')
        .addColumn('tier', 'integer', (c) => c.primaryKey())
        .addColumn('rolled_until', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0013_backup_destinations': {
    async up(db: Kysely<any>) {
      // Account-wide S3-compatible backup destinations: `credentials` (bucket, region, endpoint and both
      // keys) sealed. A backup written to one has a placement: the destination and the object's key.
      await db.schema
        .createTable('backup_destinations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('credentials', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('backup_placements')
        .addColumn('backup_id', 'text', (c) => c.primaryKey())
        .addColumn('destination_id', 'text', (c) => c.notNull())
        .addColumn('object_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('backup_placements_destination_idx').on('backup_placements').columns(['destination_id']).execute();
    },
  },
  '0018_leases': {
    async up(db: Kysely<any>) {
      // One row per lease (a controller, a shard of its keys, or a singleton); see src/store/leases-repo.ts.
      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('epoch', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('acquired_at', 'bigint', (c) => c.notNull())
        .addColumn('renewed_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  // Several control-plane replicas on one PostgreSQL database (docs/high-availability.md): what one replica
  // holds for the others. `cluster_meta` names the sealing key (its fingerprint) so a replica with another key
  // refuses to start; `route_publications` holds each replica's routing table, which every replica's router
  // serves merged; `blobs` holds build artifacts (by build, with their sha256); `log_lines` the services' output; `observed_instances` what each replica's runtime runs, as the API shows it.
  '0020_shared_replicas': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cluster_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('route_publications')
        .addColumn('node_id', 'text', (c) => c.primaryKey())
        .addColumn('routes', 'text', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('applied', 'text', (c) => c.notNull())
        .addColumn('heartbeat_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('blobs')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('log_lines')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('instance_id', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('ts_ms', 'bigint', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('observed_instances')
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('service_key', 'text', (c) => c.notNull())
        .addColumn('views', 'text', (c) => c.notNull())
        .addColumn('updated_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('observed_instances_pk', ['node_id', 'service_key'])
        .execute();
      await db.schema.createIndex('observed_instances_service_idx').on('observed_instances').columns(['service_key']).execute();
      await db.schema.createIndex('log_lines_service_idx').on('log_lines').columns(['project_id', 'service_id', 'id']).execute();
      await db.schema.createIndex('log_lines_ts_idx').on('log_lines').columns(['ts_ms']).execute();
    },
  },
});

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    async getMigrations() {
      return migrations(dialect);
    },
  };
}
