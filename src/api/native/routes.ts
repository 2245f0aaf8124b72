/**
 * slipway's native routes (RFC 9457 errors): tokens, source bundle uploads, build logs, releases, events
 * and instance listings — what the Northflank face has no shape for.
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { buildView } from '../v1/service-view.ts';
import { portHosts } from '../../domain/hosts.ts';
import { CanaryBody } from './canary-schema.ts';
import type { CanaryAnalysisInput, CanaryStepInput } from '../../services/canary-rollouts.ts';

const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });

export function registerNative(app: Api, deps: ApiDeps): void {
  const { auth, builds, catalog, deploys, store } = deps;

  app.post(
    '/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the token is shown once',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            role: Type.Union([Type.Literal('admin'), Type.Literal('owner'), Type.Literal('developer'), Type.Literal('viewer')]),
            projectId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const { token, record } = await auth.createToken(req.principal, req.body as never);
      return reply.status(201).send({ ...record, token });
    },
  );
  app.get('/tokens', { schema: { tags: ['tokens'] } }, async (req) => ({ tokens: await auth.listTokens(req.principal) }));
  app.delete('/tokens/:id', { schema: { tags: ['tokens'], params: Type.Object({ id: Type.String({ maxLength: 100 }) }) } }, async (req, reply) => {
    await auth.revokeToken(req.principal, (req.params as { id: string }).id);
    return reply.status(204).send();
  });

  app.post('/projects/:projectId/services/:serviceId/bundles', { schema: { tags: ['builds'], summary: 'Upload a .tar.gz source bundle and build it', params: ServiceParams } }, async (req, reply) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    if (!Buffer.isBuffer(req.body)) {
      return reply.status(415).type('application/problem+json').send({ type: 'https://slipway.dev/problems/unsupported_media_type', title: 'Unsupported media type', status: 415, detail: 'send the bundle as application/gzip', code: 'unsupported_media_type' });
    }
    const b = await builds.startFromBundle(req.principal, projectId, serviceId, req.body);
    return reply.status(202).send(buildView(b));
  });
  app.get('/projects/:projectId/services/:serviceId/builds/:buildId/log', { schema: { tags: ['builds'], params: Type.Object({ projectId: Type.String(), serviceId: Type.String(), buildId: Type.String() }) } }, async (req, reply) => {
    const { projectId, serviceId, buildId } = req.params as { projectId: string; serviceId: string; buildId: string };
    return reply.type('text/plain; charset=utf-8').send(await builds.log(req.principal, projectId, serviceId, buildId));
  });
  app.get('/projects/:projectId/services/:serviceId/releases', { schema: { tags: ['releases'], params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const list = await deploys.releaseHistory(req.principal, projectId, serviceId);
    return { releases: list.map((r) => ({ id: r.id, number: r.number, buildId: r.buildId, image: r.image, specHash: r.specHash, changes: r.changes, createdAt: r.createdAt, restartedAt: r.spec.restartedAt })) };
  });
  app.get('/projects/:projectId/services/:serviceId/events', { schema: { tags: ['events'], params: ServiceParams, querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }) } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    await catalog.get(req.principal, projectId, serviceId);
    return { events: await store.events.list(projectId, serviceId, { afterId: (req.query as { after?: number }).after }) };
  });
  // The log routes (read with search, stream) are in logs.ts.
  app.post(
    '/projects/:projectId/services/:serviceId/rollback',
    { schema: { tags: ['releases'], summary: 'Roll back to an earlier release (default: the last good one)', params: ServiceParams, body: Type.Optional(Type.Union([Type.Object({ release: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }), Type.Null()])) } },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const d = await deploys.rollback(req.principal, projectId, serviceId, (req.body as { release?: number } | undefined)?.release);
      return { release: d.release?.number ?? null, status: d.service.deployStatus, restored: d.restored };
    },
  );
  app.post(
    '/projects/:projectId/services/:serviceId/redeploy',
    {
      schema: {
        tags: ['releases'],
        summary: 'Replace every instance with the current spec, all at once; old ones stay overlapSeconds after the new are ready',
        params: ServiceParams,
        body: Type.Optional(Type.Union([Type.Object({ overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })) }, { additionalProperties: false }), Type.Null()])),
      },
    },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const d = await deploys.redeploy(req.principal, projectId, serviceId, (req.body as { overlapSeconds?: number } | undefined)?.overlapSeconds ?? 0);
      return { release: d.release?.number ?? null, status: d.service.deployStatus };
    },
  );
  app.get('/projects/:projectId/services/:serviceId/rollouts', { schema: { tags: ['releases'], summary: 'Rollouts with their ordered events', params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { rollouts: await deploys.rollouts(req.principal, projectId, serviceId) };
  });
  const RolloutParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }), number: Type.Integer({ minimum: 1 }) });
  app.post(
    '/projects/:projectId/services/:serviceId/rollouts',
    {
      schema: {
        tags: ['releases'],
        summary: 'Roll out a release (default: the newest) with a strategy: rolling (maxInFlight), recreate, or canary steps that pause for continue/cancel',
        params: ServiceParams,
        body: Type.Object(
          {
            release: Type.Optional(Type.Integer({ minimum: 1 })),
            strategy: Type.Unsafe<'rolling' | 'recreate' | 'canary'>({ type: 'string', enum: ['rolling', 'recreate', 'canary'] }),
            maxInFlight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            minReadySeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
            canary: Type.Optional(CanaryBody),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const b = req.body as { release?: number; strategy: 'rolling' | 'recreate' | 'canary'; maxInFlight?: number; minReadySeconds?: number; canary?: { steps: CanaryStepInput[]; analysis?: CanaryAnalysisInput } };
      return deploys.startRollout(req.principal, projectId, serviceId, { release: b.release, strategy: b.strategy, maxInFlight: b.maxInFlight, minReadySeconds: b.minReadySeconds, canarySteps: b.canary?.steps, canaryAnalysis: b.canary?.analysis });
    },
  );
  // A rollout's ordered events: JSON, or with `Accept: text/event-stream` a live stream (Server-Sent Events)
  // that replays what happened so far, follows each new event, and ends with an `end` event when the
  // rollout finishes. `Last-Event-ID` resumes after a given event.
  app.get('/projects/:projectId/services/:serviceId/rollouts/:number/events', { schema: { tags: ['releases'], summary: 'Rollout events, as JSON or streamed', params: RolloutParams } }, async (req, reply) => {
    const { projectId, serviceId, number } = req.params as { projectId: string; serviceId: string; number: number };
    const lastId = Number(req.headers['last-event-id'] ?? 0) || 0;
    const first = await deploys.rolloutEvents(req.principal, projectId, serviceId, number, lastId);
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) return { status: first.status, paused: first.paused, events: first.events };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let closed = false;
    req.raw.on('close', () => (closed = true));
    let after = lastId;
    let batch = first;
    const deadline = Date.now() + 60 * 60_000;
    for (;;) {
      for (const e of batch.events) {
        res.write(`id: ${e.id}\nevent: rollout\ndata: ${JSON.stringify(e)}\n\n`);
        after = e.id;
      }
      if (batch.status !== 'IN_PROGRESS' || closed || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
      try {
        batch = await deploys.rolloutEvents(req.principal, projectId, serviceId, number, after);
      } catch {
        break;
      }
    }
    if (!closed) res.end(`event: end\ndata: ${JSON.stringify({ status: batch.status })}\n\n`);
  });
  app.get('/projects/:projectId/services/:serviceId/rollouts/:number', { schema: { tags: ['releases'], summary: 'One rollout; a canary in progress shows its live traffic split and per-release router metrics', params: RolloutParams } }, async (req) => {
    const { projectId, serviceId, number } = req.params as { projectId: string; serviceId: string; number: number };
    return deploys.rollout(req.principal, projectId, serviceId, number);
  });
  app.post('/projects/:projectId/services/:serviceId/rollouts/:number/continue', { schema: { tags: ['releases'], summary: 'Continue a paused canary', params: RolloutParams } }, async (req) => {
    const { projectId, serviceId, number } = req.params as { projectId: string; serviceId: string; number: number };
    return deploys.continueRollout(req.principal, projectId, serviceId, number);
  });
  app.post('/projects/:projectId/services/:serviceId/rollouts/:number/cancel', { schema: { tags: ['releases'], summary: 'Cancel a rollout: return to the release it came from', params: RolloutParams } }, async (req) => {
    const { projectId, serviceId, number } = req.params as { projectId: string; serviceId: string; number: number };
    return deploys.cancelRollout(req.principal, projectId, serviceId, number);
  });
  app.post(
    '/projects/:projectId/services/:serviceId/rollouts/plan',
    {
      schema: {
        tags: ['releases'],
        summary: 'Dry run: the steps a rollout would take (old/new instances per step, peak instances and memory); changes nothing',
        params: ServiceParams,
        body: Type.Optional(Type.Union([Type.Object({ instances: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })), strategy: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: ['recreate', 'rollout-steady', 'rollout-balanced', 'rollout-fast'] })) }, { additionalProperties: false }), Type.Null()])),
      },
    },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      return deploys.planRollout(req.principal, projectId, serviceId, (req.body ?? {}) as { instances?: number; strategy?: string });
    },
  );
  // Where a service answers: each public port's host names (HTTP, HTTP/2) or router port (TCP).
  app.get('/projects/:projectId/services/:serviceId/endpoints', { schema: { tags: ['services'], summary: 'Where each public port of the service answers', params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const svc = (await catalog.get(req.principal, projectId, serviceId)).service;
    const addr = deps.router?.address();
    let firstHttp = true;
    const endpoints = (svc.spec.ports ?? [])
      .filter((p) => p.public)
      .map((p) => {
        if (p.protocol === 'TCP') {
          const tcpPort = deps.router?.tcpPortOf?.(`${projectId}/${serviceId}/${p.name}`) ?? null;
          return { port: p.name, protocol: p.protocol, tcpPort, hosts: [] as string[] };
        }
        const hosts = portHosts(deps.domain, projectId, serviceId, p, p.protocol !== 'UDP' && firstHttp);
        if (p.protocol === 'HTTP' || p.protocol === 'HTTP/2') firstHttp = false;
        return { port: p.name, protocol: p.protocol, hosts, ...(addr ? { httpPort: addr.httpPort, httpsPort: addr.httpsPort ?? null } : {}) };
      });
    return { endpoints };
  });
  app.get('/projects/:projectId/services/:serviceId/instances', { schema: { tags: ['instances'], params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { instances: await catalog.instances(req.principal, projectId, serviceId) };
  });
}
