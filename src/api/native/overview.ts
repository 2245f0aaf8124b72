/**
 * The dashboard's overview in one read: every project the token sees, each with its services' status,
 * ready/wanted instances, current release and last rollout. `GET /overview` answers JSON; with
 * `Accept: text/event-stream` it streams (Server-Sent Events) an `overview` event now and again each time
 * anything in it changes (checked every second), with a comment line every 15 s to keep the connection.
 */
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import { serviceKey } from '../../domain/ids.ts';

export interface OverviewService {
  id: string;
  name: string;
  kind: string;
  status: string;
  reason: string | null;
  message: string | null;
  paused: boolean;
  wanted: number;
  ready: number;
  release: number | null;
  lastRollout: { number: number; kind: string; status: string; finishedAt: string | null } | null;
}

export function registerOverview(app: Api, deps: ApiDeps): void {
  const { projects, catalog, store } = deps;

  const overview = async (caller: Principal) => {
    const list = await projects.list(caller, { limit: 500 });
    return {
      projects: await Promise.all(
        list.map(async (p) => {
          const services = await catalog.list(caller, p.id, { limit: 500 });
          return {
            id: p.id,
            name: p.name,
            ...(p.description ? { description: p.description } : {}),
            services: await Promise.all(
              services.map(async (s): Promise<OverviewService> => {
                const [details, instances, rollouts] = await Promise.all([catalog.details(s), catalog.instances(caller, p.id, s.id), store.rollouts.list(serviceKey(p.id, s.id), 1)]);
                const last = rollouts[0];
                return {
                  id: s.id,
                  name: s.name,
                  kind: s.kind,
                  status: s.deployStatus,
                  reason: s.deployReason ?? null,
                  message: s.deployMessage,
                  paused: s.paused,
                  wanted: s.kind === 'build' || s.paused ? 0 : (s.spec.deployment?.instances ?? 0),
                  ready: instances.filter((i) => i.ready).length,
                  release: details.release?.number ?? null,
                  lastRollout: last ? { number: last.number, kind: last.kind, status: last.status, finishedAt: last.finishedAt ?? null } : null,
                };
              }),
            ),
          };
        }),
      ),
    };
  };

  app.get('/overview', { schema: { tags: ['services'], summary: 'Every visible project with its services at a glance; streamed with Accept: text/event-stream' } }, async (req, reply) => {
    const first = await overview(req.principal);
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) return first;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let closed = false;
    req.raw.on('close', () => (closed = true));
    let last = JSON.stringify(first);
    let seq = 1;
    res.write(`id: ${seq}\nevent: overview\ndata: ${last}\n\n`);
    let quiet = Date.now();
    while (!closed) {
      await new Promise((r) => setTimeout(r, 1000));
      if (closed) break;
      let now: string;
      try {
        now = JSON.stringify(await overview(req.principal));
      } catch {
        break;
      }
      if (now !== last) {
        last = now;
        res.write(`id: ${++seq}\nevent: overview\ndata: ${now}\n\n`);
        quiet = Date.now();
      } else if (Date.now() - quiet > 15_000) {
        res.write(': keep-alive\n\n');
        quiet = Date.now();
      }
    }
    if (!res.writableEnded) res.end();
  });
}
