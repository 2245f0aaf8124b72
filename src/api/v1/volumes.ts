/**
 * The Northflank `/v1` volume routes, shaped as `@northflank/js-client`'s create|get|list|update|delete
 * .volume, attach|detach.volume, backup.volume and the volume backups' list|get|delete. Restoring a backup
 * into its volume (`POST …/backups/:backupId/restore`) is slipway's own: the client has no call for it.
 * Thin: shapes in, VolumesService calls, `{ data }` out.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import { Enum } from './schema/enum.ts';
import { VOLUME_ACCESS_MODES, VOLUME_MAX_MOUNTS, VOLUME_MAX_SIZE_MB, VOLUME_MIN_SIZE_MB, volumeNotices, type VolumeBackupRecord, type VolumeRecord } from '../../domain/volume.ts';
import type { CreateVolumeInput, NfObject, UpdateVolumeInput, VolumesService } from '../../volumes/volumes-service.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const NAME = String.raw`^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$`;
const Mount = strict({
  volumeMountPath: Opt(Type.String({ maxLength: 512, description: 'Optionally specify the path inside this volume that should be mounted' })),
  containerMountPath: Type.String({ minLength: 1, maxLength: 512, description: 'Specify the path into which the volume should be mounted' }),
});
const Mounts = Type.Array(Mount, { minItems: 1, maxItems: VOLUME_MAX_MOUNTS, description: 'Array of mounts, containerMountPaths must be unique' });
const StorageSize = Type.Integer({ minimum: VOLUME_MIN_SIZE_MB, maximum: VOLUME_MAX_SIZE_MB, description: 'The size of the storage, in megabytes.' });
const ObjectRef = strict({
  id: Type.String({ minLength: 1, maxLength: 100, description: 'The id of object to attach this volume to.' }),
  type: Enum(['service', 'job'] as const, { description: 'The type of the object to attach this volume to.' }),
});
const CreateVolume = strict({
  name: Type.String({ minLength: 3, maxLength: 39, pattern: NAME, description: 'The name of the volume.' }),
  stageId: Opt(Type.String({ maxLength: 100 })),
  tags: Opt(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 })),
  mounts: Mounts,
  spec: strict({
    accessMode: Enum(VOLUME_ACCESS_MODES, { description: 'Access mode of the volume. Only `ReadWriteOnce` is available.' }),
    storageClassName: Opt(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$', description: 'The type of the storage.' })),
    storageSize: StorageSize,
  }),
  source: Opt(strict({ type: Enum(['volume', 'backup'] as const), sourceId: Type.String({ minLength: 1, maxLength: 100, description: 'The ID of the source object' }) })),
  owningObject: Opt(ObjectRef),
  attachedObjects: Opt(Type.Array(ObjectRef, { maxItems: 1, description: 'Array of objects this volume is attached to (at most one service).' })),
});
const UpdateVolume = strict({ mounts: Opt(Mounts), spec: Opt(strict({ storageSize: Opt(StorageSize) })) });
const Attach = strict({ owningObject: Opt(ObjectRef), nfObject: Opt(ObjectRef) });
const Detach = strict({ nfObject: ObjectRef });
const Backup = strict({
  name: Type.String({ minLength: 1, maxLength: 100, description: 'The name of the backup.' }),
  description: Opt(Type.String({ maxLength: 1000, description: 'The description for the backup.' })),
});
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const VolumeParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), volumeId: Type.String({ maxLength: 100 }) });
const BackupParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), volumeId: Type.String({ maxLength: 100 }), backupId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });

/** The Northflank view of a volume, with slipway's extras: mounts, the running operation, usage and notices. */
export function volumeView(v: VolumeRecord): Record<string, unknown> {
  return {
    id: v.id,
    name: v.spec.name,
    tags: v.spec.tags,
    spec: { accessMode: v.spec.accessMode, storageClassName: v.spec.storageClassName, storageSize: v.spec.storageSizeMb },
    mounts: v.spec.mounts,
    attachedObjects: v.attachedServiceId ? [{ id: v.attachedServiceId, type: 'service' }] : [],
    status: v.status,
    operation: v.operation ? { type: v.operation.kind === 'remount' && v.operation.detach ? 'detach' : v.operation.kind, ...('backupId' in v.operation ? { backupId: v.operation.backupId } : {}), requestedAt: v.operation.requestedAt, consistency: 'instance stopped' } : null,
    usage: { storageUsedBytes: v.usageBytes },
    notices: volumeNotices(v, undefined),
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

export function backupView(b: VolumeBackupRecord): Record<string, unknown> {
  return {
    id: b.id,
    name: b.name,
    ...(b.description ? { description: b.description } : {}),
    status: b.status,
    spec: { storageSize: b.source.storageSizeMb },
    source: { type: 'volume', sourceObject: { id: b.volumeId, spec: { accessMode: b.source.accessMode, storageSize: b.source.storageSizeMb, storageClassName: b.source.storageClassName } } },
    sizeBytes: b.sizeBytes,
    consistency: 'taken with the instance stopped',
    ...(b.message ? { message: b.message } : {}),
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
  };
}

interface PageQuery {
  per_page?: number;
  page?: number;
  cursor?: string;
}

async function paginate<T extends { id: string }>(q: PageQuery, fetch: (after: string | undefined, limit: number) => Promise<T[]>) {
  const perPage = q.per_page ?? 50;
  let after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : undefined;
  if (!after && q.page && q.page > 1) after = (await fetch(undefined, (q.page - 1) * perPage)).at(-1)?.id ?? '\uffff';
  const rows = await fetch(after, perPage + 1);
  const items = rows.slice(0, perPage);
  const hasNextPage = rows.length > perPage;
  return { items, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}), count: items.length } };
}

const tags = { tags: ['volumes'] };

export function registerV1Volumes(app: Api, volumes: VolumesService): void {
  const base = '/v1/projects/:projectId/volumes';
  // The client types a volume list (and a backup list) as the array itself: `data` is the array.
  app.get(base, { schema: { ...tags, summary: 'List volumes', params: ProjectParams, querystring: Page } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => volumes.list(req.principal, projectId, { after, limit }));
    return { data: items.map(volumeView), pagination };
  });
  app.post(base, { schema: { ...tags, summary: 'Create a volume (empty, or from a backup)', params: ProjectParams, body: CreateVolume } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: volumeView(await volumes.create(req.principal, projectId, req.body as CreateVolumeInput)) };
  });
  app.get(`${base}/:volumeId`, { schema: { ...tags, summary: 'Get a volume', params: VolumeParams } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    return { data: volumeView(await volumes.get(req.principal, projectId, volumeId)) };
  });
  app.post(`${base}/:volumeId`, { schema: { ...tags, summary: 'Update volume mounts and storage size', params: VolumeParams, body: UpdateVolume } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    return { data: volumeView(await volumes.update(req.principal, projectId, volumeId, req.body as UpdateVolumeInput)) };
  });
  app.delete(`${base}/:volumeId`, { schema: { ...tags, summary: 'Delete a detached volume with its data and backups', params: VolumeParams } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    await volumes.delete(req.principal, projectId, volumeId);
    return { data: {} };
  });
  app.post(`${base}/:volumeId/attach`, { schema: { ...tags, summary: 'Attach a volume to a service (its instance restarts with it)', params: VolumeParams, body: Attach } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    return { data: volumeView(await volumes.attach(req.principal, projectId, volumeId, req.body as { nfObject?: NfObject; owningObject?: NfObject })) };
  });
  app.post(`${base}/:volumeId/detach`, { schema: { ...tags, summary: 'Detach a volume (once the instance has stopped)', params: VolumeParams, body: Detach } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    return { data: volumeView(await volumes.detach(req.principal, projectId, volumeId, req.body as { nfObject: NfObject })) };
  });
  app.get(`${base}/:volumeId/backups`, { schema: { ...tags, summary: 'List a volume’s backups', params: VolumeParams, querystring: Page } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => volumes.listBackups(req.principal, projectId, volumeId, { after, limit }));
    return { data: items.map(backupView), pagination };
  });
  app.post(`${base}/:volumeId/backups`, { schema: { ...tags, summary: 'Back a volume up (its instance stopped for a consistent copy)', params: VolumeParams, body: Backup } }, async (req) => {
    const { projectId, volumeId } = req.params as { projectId: string; volumeId: string };
    return { data: backupView(await volumes.backup(req.principal, projectId, volumeId, req.body as { name: string; description?: string })) };
  });
  app.get(`${base}/:volumeId/backups/:backupId`, { schema: { ...tags, summary: 'Get a volume backup', params: BackupParams } }, async (req) => {
    const { projectId, volumeId, backupId } = req.params as { projectId: string; volumeId: string; backupId: string };
    return { data: backupView(await volumes.getBackup(req.principal, projectId, volumeId, backupId)) };
  });
  app.delete(`${base}/:volumeId/backups/:backupId`, { schema: { ...tags, summary: 'Delete a volume backup', params: BackupParams } }, async (req) => {
    const { projectId, volumeId, backupId } = req.params as { projectId: string; volumeId: string; backupId: string };
    await volumes.deleteBackup(req.principal, projectId, volumeId, backupId);
    return { data: {} };
  });
  app.post(`${base}/:volumeId/backups/:backupId/restore`, { schema: { ...tags, summary: 'Restore a backup into its volume (the instance stops, the data is replaced, it starts)', params: BackupParams } }, async (req) => {
    const { projectId, volumeId, backupId } = req.params as { projectId: string; volumeId: string; backupId: string };
    return { data: volumeView(await volumes.restore(req.principal, projectId, volumeId, backupId)) };
  });
}
