/**
 * `POST /v1/projects/{projectId}/addons/{addonId}/import/upload`: an import from a dump file sent as the
 * request body, beside Northflank's `import.addon.backup` (`…/import`, a URL or a live database). Northflank
 * records such backups with source `fileUpload`, but its public API and `@northflank/js-client` 0.9.5 have no
 * call that sends the file, so this route is slipway's own, on the same path family (docs/addons.md).
 *
 * The body is the dump's bytes (`application/octet-stream`, or `application/gzip` for a gzipped one: either
 * is gunzipped when it starts with gzip's magic bytes), streamed to disk rather than held in memory; the
 * query carries `name` and `customDestinationId`. A bad upload is refused by field `file` with nothing made.
 */
import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import type { AddonsService } from '../../addons/addons-service.ts';
import { UnsupportedMediaTypeError, ValidationError } from '../../errors/errors.ts';

const UPLOAD_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip'];
/** A refused upload this small is read to its end (the connection kept); a larger one closes it. */
const DRAIN_BYTES = 1024 * 1024;

const UploadParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }) });
const UploadQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The name of the backup the import makes.' })),
    customDestinationId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A backup destination to store the backup on.' })),
  },
  { additionalProperties: false },
);

function isStream(body: unknown): body is Readable {
  return !!body && typeof (body as Readable).pipe === 'function' && typeof (body as Readable).on === 'function';
}

export function registerV1AddonUpload(app: Api, addons: AddonsService): void {
  // In its own scope: here the dump types reach the handler as the request stream (elsewhere they are
  // buffered, bounded by SLIPWAY_UPLOAD_LIMIT_BYTES); the addon's storage bounds an upload instead.
  void app.register(async (scope) => {
    scope.removeContentTypeParser(UPLOAD_TYPES);
    scope.addContentTypeParser(UPLOAD_TYPES, (_req, payload, done) => done(null, payload));
    scope.post(
      '/v1/projects/:projectId/addons/:addonId/import/upload',
      {
        schema: {
          tags: ['addons'],
          summary: "Import an uploaded dump file (the request body) into the addon: a backup of it, then its restore",
          description: "The body is a dump of the addon's type (PostgreSQL `pg_dump -Fc`, a MySQL/MariaDB SQL dump, a Redis RDB file), gzipped or not, sent as application/octet-stream or application/gzip, at most the addon's storage. A dump of another type, a broken gzip stream or an empty body is a 400 naming `file`; a larger one a 413.",
          params: UploadParams,
          querystring: UploadQuery,
        },
      },
      async (req, reply) => {
        const { projectId, addonId } = req.params as { projectId: string; addonId: string };
        const query = req.query as { name?: string; customDestinationId?: string };
        const body = req.body as unknown;
        try {
          if (body !== undefined && !isStream(body)) throw new UnsupportedMediaTypeError(`file: send the dump itself as the body, with Content-Type ${UPLOAD_TYPES.join(' or ')}`);
          if (!isStream(body)) throw ValidationError.one('file', 'required', "the request body is the dump file to import (Content-Type application/octet-stream or application/gzip)");
          const length = Number(req.headers['content-length']);
          const { backup, restore } = await addons.backups.importUpload(req.principal, projectId, addonId, body, {
            ...(query.name ? { name: query.name } : {}),
            ...(query.customDestinationId ? { customDestinationId: query.customDestinationId } : {}),
            ...(Number.isFinite(length) ? { contentLength: length } : {}),
          });
          return { data: { backupId: backup.id, restoreId: restore.id } };
        } catch (err) {
          // Refused before the body was all read: the rest is drained so the client can read the answer, and
          // unless it is small the connection closes after the answer instead of reading on.
          if (isStream(body) && !body.readableEnded) {
            const length = Number(req.headers['content-length']);
            if ((err as { status?: number }).status === 413 || !(length <= DRAIN_BYTES)) reply.header('connection', 'close');
            body.resume();
          }
          throw err;
        }
      },
    );
  });
}
