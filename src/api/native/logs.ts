/**
 * The log routes: `GET …/logs` reads (search by text, time range and instance) and `GET …/logs/stream`
 * follows as Server-Sent Events (`event: line`, data one JSON line `{ instance, ts, stream, line }`; a
 * comment every 15 s keeps proxies from closing an idle stream). See docs/logs.md.
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { LogReadRequest } from '../../observe/logs/logs-service.ts';

const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });
const filters = {
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'case-insensitive text the line contains' })),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339 time, or a duration back from now: 90s, 15m, 2h, 7d' })),
  instance: Type.Optional(Type.String({ maxLength: 300, description: 'an instance id, or its ordinal-and-hash suffix' })),
};
const ReadQuery = Type.Object({
  tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'the newest this many matching lines (default 200)' })),
  ...filters,
  until: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339 time, or a duration back from now' })),
});
const StreamQuery = Type.Object({ tail: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'matching lines sent first (default 100)' })), ...filters });

/** Bytes a slow stream client may have unsent before lines for it are dropped (and the drop reported). */
const MAX_UNSENT_BYTES = 1024 * 1024;

export function registerNativeLogs(app: Api, deps: ApiDeps): void {
  const logs = deps.logs;
  app.get(
    '/projects/:projectId/services/:serviceId/logs',
    { schema: { tags: ['logs'], summary: 'Output of every instance, timestamped: the newest lines matching text, time range and instance', params: ServiceParams, querystring: ReadQuery } },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const q = req.query as LogReadRequest;
      if (!logs) return { lines: await deps.catalog.logs(req.principal, projectId, serviceId, q.tail ?? 200) };
      return { lines: await logs.read(req.principal, projectId, serviceId, q) };
    },
  );
  if (!logs) return;
  // Streams never end on their own: when the API closes (the control plane stops), each is ended so the
  // close does not wait for clients to hang up.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  app.get(
    '/projects/:projectId/services/:serviceId/logs/stream',
    { schema: { tags: ['logs'], summary: 'Follow the output as Server-Sent Events: the newest matching lines, then each new one (event `line`)', params: ServiceParams, querystring: StreamQuery } },
    async (req, reply) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const res = reply.raw;
      let started = false;
      let dropped = 0;
      const send = (text: string) => {
        if (res.destroyed) return;
        if (res.writableLength > MAX_UNSENT_BYTES) {
          dropped++;
          return;
        }
        if (dropped) {
          res.write(`event: dropped\ndata: ${JSON.stringify({ lines: dropped })}\n\n`);
          dropped = 0;
        }
        res.write(text);
      };
      const start = () => {
        if (started) return;
        started = true;
        reply.hijack();
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        res.write(': streaming\n\n');
      };
      // Validation and authorization errors are answered as problems: the stream starts only once follow() accepts.
      const pending: string[] = [];
      const unsubscribe = await logs.follow(req.principal, projectId, serviceId, req.query as LogReadRequest, (l) => {
        const text = `event: line\ndata: ${JSON.stringify(l)}\n\n`;
        if (started) send(text);
        else pending.push(text);
      });
      start();
      for (const t of pending) send(t);
      const heartbeat = setInterval(() => send(': keep-alive\n\n'), 15_000);
      const end = () => {
        if (!open.delete(end)) return;
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      };
      open.add(end);
      res.on('close', end);
      req.raw.on('close', end);
    },
  );
}
