/**
 * Northflank's `/v1/integrations/log-sinks` routes, shaped so the official client's
 * `create|get|list|update|delete|pause|resume.logSink` work unchanged. Thin: shapes in, LogSinksService
 * called, `{ data }` out. Sink types other than `http` and `loki` pass the schema (they are the client's)
 * and are refused with a 422 naming `sinkType`.
 */
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import { Enum } from './schema/enum.ts';
import type { LogSinkInput, LogSinksService, LogSinkUpdate } from '../../observe/sinks/log-sinks-service.ts';

const Opt = Type.Optional;
const SINK_TYPES = ['loki', 'datadog_logs', 'papertrail', 'http', 'aws_s3', 'logdna', 'coralogix', 'betterStack', 'honeycomb', 'logzio', 'solarWinds', 'axiom', 'newRelic'] as const;
const Options = Type.Object({ useCustomLabels: Opt(Type.Boolean()), forwardCdnLogs: Opt(Type.Boolean()), forwardIngressLogs: Opt(Type.Boolean()), forwardMeshLogs: Opt(Type.Boolean()) }, { additionalProperties: false });
const Projects = Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9-]+$' }), { maxItems: 200 });
const SinkData = Type.Object({}, { additionalProperties: true, description: "the sink type's settings: `http` { uri, encoding, auth, batch, framing }, `loki` { endpoint, encoding, auth }" });
const Restrictions = Type.Object({}, { additionalProperties: true });
const CreateSink = Type.Object(
  {
    name: Type.String({ minLength: 3, maxLength: 39, pattern: String.raw`^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$` }),
    description: Opt(Type.String({ maxLength: 200 })),
    restricted: Opt(Type.Boolean()),
    projects: Opt(Projects),
    restrictions: Opt(Restrictions),
    options: Opt(Options),
    sinkType: Enum(SINK_TYPES),
    sinkData: SinkData,
  },
  { additionalProperties: false },
);
const UpdateSink = Type.Object(
  { restricted: Opt(Type.Boolean()), projects: Opt(Projects), options: Opt(Options), resumeLogSink: Opt(Type.Boolean()), sinkType: Enum(SINK_TYPES), sinkData: Opt(SinkData) },
  { additionalProperties: false },
);
const SinkParams = Type.Object({ logSinkId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });
const tags = { tags: ['log sinks'] };

export function registerV1LogSinks(app: Api, sinks: LogSinksService): void {
  app.get('/v1/integrations/log-sinks', { schema: { ...tags, summary: 'List log sinks (admin)', querystring: Page } }, async (req) => {
    const all = await sinks.list(req.principal);
    const q = req.query as { per_page?: number; page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64url').toString('utf8')) || 0 : ((q.page ?? 1) - 1) * perPage;
    const items = all.slice(start, start + perPage);
    const hasNextPage = start + perPage < all.length;
    return { data: { logSinks: items }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(String(start + perPage)).toString('base64url') } : {}), count: items.length } };
  });
  app.post('/v1/integrations/log-sinks', { schema: { ...tags, summary: 'Create a log sink (admin): http or loki', body: CreateSink } }, async (req) => ({ data: await sinks.create(req.principal, req.body as LogSinkInput) }));
  app.get('/v1/integrations/log-sinks/:logSinkId', { schema: { ...tags, summary: 'Read a log sink: settings without secrets, status and delivery counters', params: SinkParams } }, async (req) => ({
    data: await sinks.get(req.principal, (req.params as { logSinkId: string }).logSinkId),
  }));
  app.post('/v1/integrations/log-sinks/:logSinkId/settings', { schema: { ...tags, summary: 'Change a log sink (fields merged in)', params: SinkParams, body: UpdateSink } }, async (req) => ({
    data: await sinks.update(req.principal, (req.params as { logSinkId: string }).logSinkId, req.body as LogSinkUpdate),
  }));
  app.post('/v1/integrations/log-sinks/:logSinkId/pause', { schema: { ...tags, summary: 'Pause a log sink: it takes no lines until resumed', params: SinkParams } }, async (req) => ({
    data: await sinks.setPaused(req.principal, (req.params as { logSinkId: string }).logSinkId, true),
  }));
  app.post('/v1/integrations/log-sinks/:logSinkId/resume', { schema: { ...tags, summary: 'Resume a paused log sink', params: SinkParams } }, async (req) => ({
    data: await sinks.setPaused(req.principal, (req.params as { logSinkId: string }).logSinkId, false),
  }));
  app.delete('/v1/integrations/log-sinks/:logSinkId', { schema: { ...tags, summary: 'Delete a log sink; what it had buffered is not sent', params: SinkParams } }, async (req) => {
    await sinks.delete(req.principal, (req.params as { logSinkId: string }).logSinkId);
    return { data: {} };
  });
}
