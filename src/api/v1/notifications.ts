/**
 * Northflank's `/v1/integrations/notifications` routes, shaped so the official client's
 * `create|get|list|update|delete.notification` work unchanged (its update is a POST to the integration).
 * Thin: shapes in, NotificationsService called, `{ data }` out. See docs/alerts.md.
 */
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import { Enum } from './schema/enum.ts';
import { NOTIFICATION_TYPES, type NotificationInput, type NotificationsService, type NotificationUpdate } from '../../observe/alerts/notifications-service.ts';

const Opt = Type.Optional;
const Name = Type.String({ minLength: 3, maxLength: 39, pattern: String.raw`^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$` });
const Projects = Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9-]+$' }), { maxItems: 200 });
const Events = Type.Object({}, { additionalProperties: Type.Boolean(), description: "the triggers to alert on, e.g. { 'trigger:service:deployment:status-update': true }" });
const common = {
  webhook: Type.String({ minLength: 1, maxLength: 2000 }),
  secret: Opt(Type.String({ maxLength: 500 })),
  restricted: Opt(Type.Boolean()),
  projects: Opt(Projects),
  restrictions: Opt(Type.Object({}, { additionalProperties: true })),
};
const CreateNotification = Type.Object({ name: Name, type: Enum(NOTIFICATION_TYPES), ...common, events: Events }, { additionalProperties: false });
const UpdateNotification = Type.Object({ name: Opt(Name), ...common, webhook: Opt(common.webhook), events: Opt(Events) }, { additionalProperties: false });
const Params = Type.Object({ notificationId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });
const tags = { tags: ['notifications'] };

export function registerV1Notifications(app: Api, notifications: NotificationsService): void {
  app.get('/v1/integrations/notifications', { schema: { ...tags, summary: 'List notification integrations (admin)', querystring: Page } }, async (req) => {
    const all = await notifications.list(req.principal);
    const q = req.query as { per_page?: number; page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64url').toString('utf8')) || 0 : ((q.page ?? 1) - 1) * perPage;
    const items = all.slice(start, start + perPage);
    const hasNextPage = start + perPage < all.length;
    return { data: { notificationIntegrations: items }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(String(start + perPage)).toString('base64url') } : {}), count: items.length } };
  });
  app.post('/v1/integrations/notifications', { schema: { ...tags, summary: 'Create a notification integration (admin)', body: CreateNotification } }, async (req) => ({
    data: await notifications.create(req.principal, req.body as NotificationInput),
  }));
  app.get('/v1/integrations/notifications/:notificationId', { schema: { ...tags, summary: 'Read a notification integration (never its secret)', params: Params } }, async (req) => ({
    data: await notifications.get(req.principal, (req.params as { notificationId: string }).notificationId),
  }));
  app.post('/v1/integrations/notifications/:notificationId', { schema: { ...tags, summary: 'Change a notification integration; events merge key by key', params: Params, body: UpdateNotification } }, async (req) => ({
    data: await notifications.update(req.principal, (req.params as { notificationId: string }).notificationId, (req.body ?? {}) as NotificationUpdate),
  }));
  app.delete('/v1/integrations/notifications/:notificationId', { schema: { ...tags, summary: 'Delete a notification integration and its delivery history', params: Params } }, async (req) => {
    await notifications.delete(req.principal, (req.params as { notificationId: string }).notificationId);
    return { data: {} };
  });
}
