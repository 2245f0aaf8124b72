/**
 * The Northflank `/v1` addon routes, shaped as Northflank's public API so `@northflank/js-client`'s
 * `get.addonTypes`, `create|put|get|list|patch|delete.addon`, `pause|resume|restart|scale.addon`,
 * `get|update.addon.version`, `get.addon.containers|credentials`, `backup.addon`, `get.addon.backups|backup`,
 * `delete.backup`, `restore.addon.backup`, `get.addon.restores` and `get.addon.backup.restores|download`
 * work unchanged (and slipway's upload of a dump file beside `import.addon.backup`: addon-upload.ts). Thin: shapes in, AddonsService calls, `{ data }` out.
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { AddonsService, AddonContainer, AddonInput, AddonPatch } from '../../addons/addons-service.ts';
import { ADDON_REPLICAS, replicaRange, type AddonType, ADDON_STORAGE_DEFAULT, ADDON_STORAGE_OPTIONS, camelKey, majorOf, type AddonBackupSchedule, type BackupScheduleSpec, type AddonBackupRecord, type AddonRecord, type AddonRestoreRecord } from '../../domain/addons.ts';
import * as S from './schema/addons.ts';
import { registerV1AddonUpload } from './addon-upload.ts';
import { PaginationQuery } from './schema/index.ts';

const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const AddonParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }) });
const BackupParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }), backupId: Type.String({ maxLength: 100 }) });
const tags = { tags: ['addons'] };
const CLUSTER = { id: 'slipway', name: 'slipway' };

type AP = { projectId: string; addonId: string };
type BP = AP & { backupId: string };

/** The addon as `create`/`get`/`patch` answer: GetAddonResult's fields and CreateAddonResult's together. */
export function addonView(a: AddonRecord): Record<string, unknown> {
  const s = a.spec;
  return {
    id: a.id,
    name: s.name,
    appId: `/slipway/${a.projectId}/${a.id}`,
    ...(s.description !== undefined ? { description: s.description } : {}),
    tags: s.tags ?? [],
    type: s.type,
    version: s.version,
    billing: { deploymentPlan: s.billing.deploymentPlan, storage: s.billing.storage, replicas: s.billing.replicas, ...(s.billing.storageClass ? { storageClass: s.billing.storageClass } : {}) },
    tlsEnabled: s.tlsEnabled,
    externalAccessEnabled: s.externalAccessEnabled,
    ...(s.typeSpecificSettings ? { typeSpecificSettings: s.typeSpecificSettings } : {}),
    ...(s.dbName ? { customCredentials: { dbName: s.dbName } } : {}),
    ...(s.stageId ? { stageId: s.stageId } : {}),
    ...(s.metadata ? { metadata: s.metadata } : {}),
    status: a.status,
    ...(a.statusMessage ? { statusMessage: a.statusMessage } : {}),
    spec: {
      type: s.type,
      config: {
        versionTag: s.version,
        lifecycleStatus: 'active',
        deployment: { replicas: s.billing.replicas, storageClass: s.billing.storageClass ?? 'local', storageSize: s.billing.storage, planId: s.billing.deploymentPlan, region: 'local' },
        networking: { tlsEnabled: s.tlsEnabled, externalAccessEnabled: s.externalAccessEnabled, ipPolicies: [] },
      },
    },
    cluster: CLUSTER,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

/** The addon as a project's `addons` list names it (GetProjectResult): id, appId, name, description, type. */
export function addonSummary(a: AddonRecord): Record<string, unknown> {
  return { id: a.id, appId: `/slipway/${a.projectId}/${a.id}`, name: a.spec.name, ...(a.spec.description !== undefined ? { description: a.spec.description } : {}), spec: { type: a.spec.type } };
}

function listItem(a: AddonRecord): Record<string, unknown> {
  return { ...addonSummary(a), tags: a.spec.tags ?? [], status: a.status };
}

function restoreView(r: AddonRestoreRecord): Record<string, unknown> {
  return { id: r.id, status: r.status, restoreTimestamp: r.createdAt, ...(r.completedAt ? { completedAt: r.completedAt } : {}), backupId: r.backupId, ...(r.error ? { message: r.error } : {}) };
}

function backupView(b: AddonBackupRecord, last?: AddonRestoreRecord): Record<string, unknown> {
  return {
    id: b.id,
    name: b.name,
    status: b.status,
    backupType: b.backupType,
    createdAt: b.createdAt,
    ...(b.completedAt ? { completedAt: b.completedAt } : {}),
    config: { source: { type: b.sourceType }, size: String(b.sizeBytes), addonVersion: b.addonVersion },
    ...(b.error ? { message: b.error } : {}),
    ...(b.scheduleId ? { scheduleId: b.scheduleId, ...(b.expiresAt ? { expiresAt: b.expiresAt } : {}), retained: b.retained === true } : {}),
    ...(b.destinationId ? { customDestinationId: b.destinationId } : {}),
    ...(last ? { lastRestore: { restoreTimestamp: last.createdAt, status: last.status, ...(last.completedAt ? { completedAt: last.completedAt } : {}) } } : {}),
  };
}

/**
 * Northflank's container statuses from the runtime's instance states: an exited server ended by a signal was
 * killed, one that exited 0 finished (a clean shutdown), any other exit failed.
 */
function containerStatus(c: AddonContainer): string {
  if (c.state === 'running') return 'TASK_RUNNING';
  if (c.state === 'starting') return 'TASK_STARTING';
  if (c.signal) return 'TASK_KILLED';
  return c.exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED';
}

/** One page of a list the service returns whole (backups, restores): Northflank's cursor pagination. */
function page<T>(items: T[], q: { per_page?: number; page?: number; cursor?: string }): { items: T[]; pagination: Record<string, unknown> } {
  const perPage = q.per_page ?? 50;
  const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64url').toString('utf8')) || 0 : ((q.page ?? 1) - 1) * perPage;
  const slice = items.slice(start, start + perPage);
  const hasNextPage = start + perPage < items.length;
  return { items: slice, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(String(start + perPage)).toString('base64url') } : {}), count: slice.length } };
}

function replicaOptions(type: AddonType): number[] {
  const r = replicaRange(type);
  return Array.from({ length: r.max - r.min + 1 }, (_, i) => r.min + i);
}

export function registerV1Addons(app: Api, deps: ApiDeps & { addons?: AddonsService }): void {
  const addons = deps.addons;
  if (!addons) return;

  app.get('/v1/addon-types', { schema: { ...tags, summary: 'List the addon types this installation runs, with their installed versions' } }, async () => ({
    data: {
      addonTypes: addons.types().map(({ engine, versions }) => ({
        type: engine.type,
        name: engine.name,
        description: engine.description,
        features: engine.features,
        versions,
        major: [...new Set(versions.map(majorOf))],
        resources: { storage: { options: [...ADDON_STORAGE_OPTIONS], default: ADDON_STORAGE_DEFAULT }, replicas: { options: replicaOptions(engine.type), default: ADDON_REPLICAS.default } },
      })),
    },
  }));

  app.get('/v1/projects/:projectId/addons', { schema: { ...tags, summary: "List a project's addons", params: ProjectParams, querystring: PaginationQuery } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const q = req.query as { per_page?: number; page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    let after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : undefined;
    if (!after && q.page && q.page > 1) after = (await addons.list(req.principal, projectId, { limit: (q.page - 1) * perPage })).at(-1)?.id ?? '\uffff';
    const rows = await addons.list(req.principal, projectId, { after, limit: perPage + 1 });
    const items = rows.slice(0, perPage);
    const hasNextPage = rows.length > perPage;
    return { data: { addons: items.map(listItem) }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}), count: items.length } };
  });
  app.post('/v1/projects/:projectId/addons', { schema: { ...tags, summary: 'Create an addon', params: ProjectParams, body: S.CreateAddon } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: addonView(await addons.create(req.principal, projectId, req.body as AddonInput)) };
  });
  app.put('/v1/projects/:projectId/addons', { schema: { ...tags, summary: 'Create or update an addon', params: ProjectParams, body: S.CreateAddon } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: addonView(await addons.put(req.principal, projectId, req.body as AddonInput)) };
  });
  app.get('/v1/projects/:projectId/addons/:addonId', { schema: { ...tags, summary: 'Get an addon', params: AddonParams } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    return { data: addonView(await addons.get(req.principal, projectId, addonId)) };
  });
  app.patch('/v1/projects/:projectId/addons/:addonId', { schema: { ...tags, summary: 'Update an addon', params: AddonParams, body: S.PatchAddon } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    return { data: addonView(await addons.patch(req.principal, projectId, addonId, (req.body ?? {}) as AddonPatch)) };
  });
  app.delete('/v1/projects/:projectId/addons/:addonId', { schema: { ...tags, summary: 'Delete an addon: its server is stopped, then its data and backups are removed', params: AddonParams } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const a = await addons.delete(req.principal, projectId, addonId);
    return { data: { id: a.id, status: a.status, message: 'the addon server is being stopped; its data and backups are removed once it has stopped' } };
  });

  for (const action of ['pause', 'resume', 'restart'] as const) {
    app.post(`/v1/projects/:projectId/addons/:addonId/${action}`, { schema: { ...tags, summary: `${action[0].toUpperCase()}${action.slice(1)} an addon`, params: AddonParams } }, async (req) => {
      const { projectId, addonId } = req.params as AP;
      await addons[action](req.principal, projectId, addonId);
      return { data: {} };
    });
  }
  app.post('/v1/projects/:projectId/addons/:addonId/scale', { schema: { ...tags, summary: "Change an addon's plan, storage or replicas", params: AddonParams, body: S.ScaleAddon } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    await addons.scale(req.principal, projectId, addonId, (req.body ?? {}) as { deploymentPlan?: string; storage?: number; replicas?: number });
    return { data: {} };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/version', { schema: { ...tags, summary: "An addon's version and the versions it can move to", params: AddonParams } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const v = await addons.version(req.principal, projectId, addonId);
    return { data: { ...v, lifecycleStatus: 'active', upgradeHistory: [] } };
  });
  app.post('/v1/projects/:projectId/addons/:addonId/version', { schema: { ...tags, summary: 'Move an addon to another installed version of its major', params: AddonParams, body: S.UpdateAddonVersion } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    await addons.updateVersion(req.principal, projectId, addonId, (req.body as { version: string }).version);
    return { data: {} };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/containers', { schema: { ...tags, summary: "An addon's server instances", params: AddonParams, querystring: PaginationQuery } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const list = await addons.containers(req.principal, projectId, addonId);
    const containers = list.map((c) => {
      const created = c.startedAt ? Math.floor(Date.parse(c.startedAt) / 1000) : 0;
      return { name: c.name, createdAt: created, status: containerStatus(c), updatedAt: c.exitedAt ? Math.floor(Date.parse(c.exitedAt) / 1000) : created };
    });
    return { data: { containers }, pagination: { hasNextPage: false, count: containers.length } };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/credentials', { schema: { ...tags, summary: 'Connection details of an addon (secrets)', params: AddonParams } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const keys = await addons.credentialsFor(req.principal, projectId, addonId);
    return { data: { secrets: Object.fromEntries(Object.entries(keys).map(([k, v]) => [camelKey(k), v])), envs: {} } };
  });

  app.post('/v1/projects/:projectId/addons/:addonId/import', { schema: { ...tags, summary: 'Import a live database into the addon (a backup of it, then its restore)', params: AddonParams, body: S.ImportAddonBackup } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const { backup, restore } = await addons.backups.importBackup(req.principal, projectId, addonId, (req.body ?? {}) as never);
    return { data: { backupId: backup.id, restoreId: restore.id } };
  });

  registerV1AddonUpload(app, addons);

  // Backup schedules
  const scheduleView = (s: AddonBackupSchedule) => ({ id: s.id, backupType: s.spec.backupType, ...(s.spec.compressionType ? { backupCompressionType: s.spec.compressionType } : {}), scheduling: s.spec.scheduling, retentionTime: s.spec.retentionTime, createdAt: s.createdAt, updatedAt: s.createdAt });
  app.get('/v1/projects/:projectId/addons/:addonId/backup-schedules', { schema: { ...tags, summary: "An addon's backup schedules", params: AddonParams, querystring: PaginationQuery } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const { items, pagination } = page(await addons.backups.listSchedules(req.principal, projectId, addonId), req.query as never);
    return { data: { schedules: items.map(scheduleView) }, pagination };
  });
  app.post('/v1/projects/:projectId/addons/:addonId/backup-schedules', { schema: { ...tags, summary: 'Add a backup schedule', params: AddonParams, body: S.BackupSchedule } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    return { data: scheduleView(await addons.backups.createSchedule(req.principal, projectId, addonId, req.body as BackupScheduleSpec)) };
  });
  app.delete('/v1/projects/:projectId/addons/:addonId/backup-schedules/:scheduleId', { schema: { ...tags, summary: 'Delete a backup schedule', params: Type.Object({ projectId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }), scheduleId: Type.String({ maxLength: 100 }) }) } }, async (req) => {
    const { projectId, addonId, scheduleId } = req.params as AP & { scheduleId: string };
    await addons.backups.deleteSchedule(req.principal, projectId, addonId, scheduleId);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/addons/:addonId/backups/:backupId/retain', { schema: { ...tags, summary: 'Keep a scheduled backup past its retention time', params: BackupParams } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    await addons.backups.retainBackup(req.principal, projectId, addonId, backupId);
    return { data: {} };
  });

  // slipway's own (native face): Northflank's API has no credential rotation.
  app.post('/projects/:projectId/addons/:addonId/credentials/rotate', { schema: { tags: ['addons'], summary: "Rotate an addon's password (applied to the server, then to its credentials)", params: AddonParams } }, async (req, reply) => {
    const { projectId, addonId } = req.params as AP;
    await addons.rotateCredentials(req.principal, projectId, addonId);
    return reply.status(202).send({ status: 'rotating' });
  });
  app.get('/projects/:projectId/addons/:addonId/credentials/rotation', { schema: { tags: ['addons'], summary: "Where a credential rotation stands: idle, rotating, or retiring (the replaced login still valid until no instance uses it)", params: AddonParams } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    return { state: await addons.rotationState(req.principal, projectId, addonId) };
  });

  // Backups and restores
  app.get('/v1/projects/:projectId/addons/:addonId/backups', { schema: { ...tags, summary: "List an addon's backups", params: AddonParams, querystring: PaginationQuery } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const all = await addons.backups.listBackups(req.principal, projectId, addonId);
    const { items, pagination } = page(all, req.query as never);
    return { data: { backups: items.map((b) => backupView(b)) }, pagination };
  });
  app.post('/v1/projects/:projectId/addons/:addonId/backups', { schema: { ...tags, summary: 'Back up an addon (a dump)', params: AddonParams, body: S.BackupAddon } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    return { data: backupView(await addons.backups.backup(req.principal, projectId, addonId, (req.body ?? {}) as never)) };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/backups/:backupId', { schema: { ...tags, summary: 'Get a backup', params: BackupParams } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    const b = await addons.backups.getBackup(req.principal, projectId, addonId, backupId);
    const [last] = await addons.backups.listRestores(req.principal, projectId, addonId, backupId);
    return { data: backupView(b, last) };
  });
  app.delete('/v1/projects/:projectId/addons/:addonId/backups/:backupId', { schema: { ...tags, summary: 'Delete a backup', params: BackupParams } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    await addons.backups.deleteBackup(req.principal, projectId, addonId, backupId);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/addons/:addonId/backups/:backupId/restore', { schema: { ...tags, summary: 'Restore a backup into the addon', params: BackupParams, querystring: S.RestoreOptions } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    const q = req.query as { sourceProjectId?: string; sourceAddonId?: string };
    const r = await addons.backups.restore(req.principal, projectId, addonId, backupId, { projectId: q.sourceProjectId, addonId: q.sourceAddonId });
    return { data: { restoreId: r.id } };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/backups/:backupId/restores', { schema: { ...tags, summary: 'Restores of a backup into the addon', params: BackupParams, querystring: Type.Intersect([PaginationQuery, S.RestoreOptions]) } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    const { items, pagination } = page(await addons.backups.listRestores(req.principal, projectId, addonId, backupId), req.query as never);
    return { data: { restores: items.map(restoreView) }, pagination };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/restores', { schema: { ...tags, summary: "An addon's restore history", params: AddonParams, querystring: PaginationQuery } }, async (req) => {
    const { projectId, addonId } = req.params as AP;
    const { items, pagination } = page(await addons.backups.listRestores(req.principal, projectId, addonId), req.query as never);
    return { data: { restores: items.map(restoreView) }, pagination };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/backups/:backupId/download-link', { schema: { ...tags, summary: 'A link to download a backup (fetched with the same bearer token)', params: BackupParams } }, async (req) => {
    const { projectId, addonId, backupId } = req.params as BP;
    await addons.backups.backupPath(req.principal, projectId, addonId, backupId);
    const host = req.headers.host ?? '127.0.0.1';
    return { data: { downloadLink: `${req.protocol}://${host}/v1/projects/${projectId}/addons/${addonId}/backups/${backupId}/download` } };
  });
  app.get('/v1/projects/:projectId/addons/:addonId/backups/:backupId/download', { schema: { ...tags, summary: "Download a backup's file", params: BackupParams } }, async (req, reply) => {
    const { projectId, addonId, backupId } = req.params as BP;
    // From the data directory, or streamed from the backup's destination.
    const { backup, body, length } = await addons.backups.openBackup(req.principal, projectId, addonId, backupId);
    reply.header('content-type', 'application/octet-stream').header('content-disposition', `attachment; filename="${backup.file}"`);
    if (length !== undefined) reply.header('content-length', String(length));
    return reply.send(body);
  });
}
