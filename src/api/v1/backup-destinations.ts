/**
 * Northflank's `/v1/backup-destinations` routes (`add|get|list|patch|delete.backupDestination`,
 * `list.backupDestinationsBackups`): S3-compatible buckets addon backups are written to. No read carries
 * the secret key (`credentials.secretKey` reads `[redacted]`). See docs/addons.md, "Backup destinations".
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { paginate, type PageQuery } from './pagination.ts';
import { REDACTED_PASSWORD } from './service-view.ts';
import { BackupDestinationsService, type BackupDestinationInput, type BackupDestinationPatch } from '../../addons/destinations/destinations-service.ts';
import type { BackupDestinationRecord } from '../../store/backup-destinations-repo.ts';
import type { AddonBackupRecord } from '../../domain/addons.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const Credentials = strict({
  accessKey: Type.String({ maxLength: 256 }),
  secretKey: Type.String({ maxLength: 1024, description: 'Never returned.' }),
  bucketName: Type.String({ maxLength: 63 }),
  region: Type.String({ maxLength: 64 }),
  endpoint: Type.String({ maxLength: 512, description: 'S3 endpoint, e.g. s3.us-west-2.amazonaws.com, or an http(s):// URL of an S3-compatible one' }),
});
const AddDestination = strict({
  name: Type.String({ maxLength: 100 }),
  description: Opt(Type.String({ maxLength: 1000 })),
  type: Type.String({ maxLength: 20, description: "'s3'" }),
  prefix: Opt(Type.String({ maxLength: 512 })),
  credentials: Credentials,
});
const PatchDestination = strict({
  name: Opt(Type.String({ maxLength: 100 })),
  description: Opt(Type.String({ maxLength: 1000 })),
  credentials: Opt(Credentials),
});
const Params = Type.Object({ backupDestinationId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });
const tags = { tags: ['backup destinations'] };

export function destinationView(d: BackupDestinationRecord): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    ...(d.description !== undefined ? { description: d.description } : {}),
    type: d.type,
    prefix: d.prefix,
    credentials: { accessKey: d.accessKey, secretKey: REDACTED_PASSWORD, bucketName: d.bucketName, region: d.region, endpoint: d.endpoint },
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** A backup as a destination's listing shows it (ListBackupdestinationsbackupsResult). */
function storedBackupView(b: AddonBackupRecord): Record<string, unknown> {
  return {
    id: b.id,
    name: b.name,
    status: b.status,
    project: { id: b.projectId },
    addon: { id: b.addonId },
    config: { addonVersion: b.addonVersion, addonType: b.addonType, size: String(b.sizeBytes) },
    // epoch ms of its expiry; 0: kept until deleted
    expiredBy: b.expiresAt && !b.retained ? Date.parse(b.expiresAt) : 0,
    createdAt: b.createdAt,
    ...(b.completedAt ? { completedAt: b.completedAt } : {}),
  };
}

export function registerV1BackupDestinations(app: Api, deps: ApiDeps): void {
  const destinations = new BackupDestinationsService(deps.store, deps.auth);

  app.get('/v1/backup-destinations', { schema: { ...tags, summary: 'List backup destinations (no secrets)', querystring: Page } }, async (req) => {
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => destinations.list(req.principal, { after, limit }));
    return { data: { backupDestinations: items.map(destinationView) }, pagination };
  });
  app.post('/v1/backup-destinations', { schema: { ...tags, summary: 'Add a backup destination (an S3-compatible bucket; the credentials are checked against it)', body: AddDestination } }, async (req) => ({
    data: destinationView(await destinations.create(req.principal, req.body as BackupDestinationInput)),
  }));
  app.get('/v1/backup-destinations/:backupDestinationId', { schema: { ...tags, summary: 'Get a backup destination (the secret key is never returned)', params: Params } }, async (req) => {
    const { backupDestinationId } = req.params as { backupDestinationId: string };
    return { data: destinationView(await destinations.get(req.principal, backupDestinationId)) };
  });
  app.patch('/v1/backup-destinations/:backupDestinationId', { schema: { ...tags, summary: 'Update a backup destination', params: Params, body: PatchDestination } }, async (req) => {
    const { backupDestinationId } = req.params as { backupDestinationId: string };
    return { data: destinationView(await destinations.update(req.principal, backupDestinationId, req.body as BackupDestinationPatch)) };
  });
  app.delete('/v1/backup-destinations/:backupDestinationId', { schema: { ...tags, summary: 'Delete a backup destination (refused while it holds backups)', params: Params } }, async (req) => {
    const { backupDestinationId } = req.params as { backupDestinationId: string };
    await destinations.delete(req.principal, backupDestinationId);
    return { data: {} };
  });
  app.get('/v1/backup-destinations/:backupDestinationId/backups', { schema: { ...tags, summary: 'The backups stored at a backup destination', params: Params, querystring: Page } }, async (req) => {
    const { backupDestinationId } = req.params as { backupDestinationId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, async (after, limit) => {
      const all = await destinations.backups(req.principal, backupDestinationId);
      const start = after ? all.findIndex((b) => b.id === after) + 1 : 0;
      return all.slice(start, start + limit);
    });
    return { data: items.map(storedBackupView), pagination };
  });
}
