/** Cloud Foundry deployments: rollouts of a droplet or an earlier revision, rolling or canary, with cancel and continue. */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import { releaseIdsOf, type RolloutRecord } from '../../store/rollouts-repo.ts';
import { NotFoundError, UnprocessableError, ValidationError } from '../../errors/errors.ts';
import { serviceKey } from '../../domain/ids.ts';
import { appGuid, buildIdOfDroplet, deploymentView, paginated } from './views.ts';
import { Guid, GuidParams, ListQuery, Metadata, Rel, type ListQ } from './schemas.ts';
import { baseOf, csv, type CfLookups } from './context.ts';
import { scaleProcess } from './processes.ts';

export function registerCfDeployments(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { catalog, deploys, store } = deps;
  const { allApps, findApp, appOfKey, currentBuildId } = cx;

  // ---- deployments ----------------------------------------------------------------------------------------
  /**
   * Rollouts, oldest first, as CF deployments. What each shows of its releases (number, droplet) is read for
   * all of them at once, without opening the releases' sealed parts; the last event only of a rollout still
   * running (a finished one shows when it finished). `nextOf` is the rollout after each, where known.
   */
  const deploymentsOf = async (base: string, svc: ServiceRecord, rollouts: RolloutRecord[], nextOf: (i: number) => RolloutRecord | undefined) => {
    const heads = await store.releases.heads(releaseIdsOf(rollouts));
    return Promise.all(
      rollouts.map(async (r, i) => {
        const lastEventAt = r.finishedAt ? undefined : (await store.rollouts.lastEvent(r.id))?.createdAt;
        const from = r.fromReleaseId ? heads.get(r.fromReleaseId) : undefined;
        return deploymentView(base, svc, r, { next: nextOf(i), to: heads.get(r.toReleaseId), from, lastEventAt, lastReadyAt: r.status === 'COMPLETED' ? (r.finishedAt ?? undefined) : undefined });
      }),
    );
  };
  /** One rollout as a CF deployment. */
  const deploymentOf = async (base: string, svc: ServiceRecord, r: RolloutRecord) => {
    const next = await store.rollouts.byNumber(serviceKey(svc.projectId, svc.id), r.number + 1);
    return (await deploymentsOf(base, svc, [r], () => next))[0]!;
  };
  const findDeployment = async (p: Principal, guid: string) => {
    const r = await store.rollouts.get(guid).catch(() => undefined);
    if (!r) throw new NotFoundError('deployment', guid);
    const svc = await appOfKey(p, r.serviceKey).catch(() => {
      throw new NotFoundError('deployment', guid);
    });
    return { r, svc };
  };
  app.post(
    '/v3/deployments',
    {
      schema: {
        tags: ['cf'],
        body: Type.Object(
          {
            droplet: Type.Optional(Type.Object({ guid: Guid }, { additionalProperties: false })),
            revision: Type.Optional(Type.Object({ guid: Guid }, { additionalProperties: false })),
            strategy: Type.Optional(Type.Union([Type.Literal('rolling'), Type.Literal('canary')])),
            options: Type.Optional(
              Type.Object(
                {
                  max_in_flight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
                  web_instances: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
                  memory_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
                  disk_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
                  log_rate_limit_in_bytes_per_second: Type.Optional(Type.Integer({ minimum: -1 })),
                  canary: Type.Optional(Type.Object({ steps: Type.Optional(Type.Array(Type.Object({ instance_weight: Type.Integer({ minimum: 1, maximum: 100 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 100 })) }, { additionalProperties: false })),
                },
                { additionalProperties: false },
              ),
            ),
            relationships: Type.Object({ app: Rel }, { additionalProperties: false }),
            metadata: Metadata,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      type Body = { droplet?: { guid: string }; revision?: { guid: string }; strategy?: 'rolling' | 'canary'; options?: { max_in_flight?: number; web_instances?: number; memory_in_mb?: number; canary?: { steps?: { instance_weight: number }[] } }; relationships: { app: { data: { guid: string } } } };
      const body = req.body as Body;
      const svc = await findApp(req.principal, body.relationships.app.data.guid).catch(() => {
        throw ValidationError.one('relationships.app', 'exists', 'Unable to use app. Ensure that the app exists and you have access to it.');
      });
      if (body.droplet && body.revision) throw ValidationError.one('droplet', 'exclusive', 'Cannot set both droplet and revision');
      const strategy = body.strategy ?? 'rolling';
      const steps = body.options?.canary?.steps;
      if (steps && strategy !== 'canary') throw ValidationError.one('options.canary', 'strategy', "canary steps are only valid with strategy 'canary'");
      if (steps) {
        for (let i = 1; i < steps.length; i++) if (steps[i].instance_weight <= steps[i - 1].instance_weight) throw ValidationError.one(`options.canary.steps.${i}.instance_weight`, 'ascending', 'Canary step weights must be in ascending order');
      }
      let buildId: string | undefined;
      let release: number | undefined;
      if (body.droplet) {
        const id = buildIdOfDroplet(body.droplet.guid);
        const b = id ? await store.builds.find(id) : undefined;
        if (!b || b.status !== 'SUCCESS' || b.projectId !== svc.projectId || b.serviceId !== svc.id) throw ValidationError.one('droplet', 'exists', 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
        buildId = b.id;
      } else if (body.revision) {
        const rel = await store.releases.find(body.revision.guid);
        if (!rel || rel.serviceKey !== serviceKey(svc.projectId, svc.id)) throw ValidationError.one('revision', 'exists', 'The revision does not exist');
        release = rel.number;
      } else {
        buildId = await currentBuildId(svc);
        if (!buildId) throw new UnprocessableError('Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.');
      }
      if (body.options?.web_instances !== undefined || body.options?.memory_in_mb !== undefined) await scaleProcess(catalog, req.principal, svc, { instances: body.options.web_instances, memory_in_mb: body.options.memory_in_mb });
      const r = await deploys.deploy(req.principal, svc.projectId, svc.id, {
        buildId,
        release,
        strategy,
        maxInFlight: body.options?.max_in_flight,
        canarySteps: steps?.map((s) => ({ instanceWeight: s.instance_weight })),
      });
      return reply.status(201).send(await deploymentOf(baseOf(req), await store.services.get(svc.projectId, svc.id), r));
    },
  );
  app.get('/v3/deployments', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const values = csv(q.status_values);
    const reasons = csv(q.status_reasons);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      const rollouts = (await store.rollouts.list(serviceKey(svc.projectId, svc.id), 1000)).sort((a, b) => a.number - b.number);
      const views = await deploymentsOf(baseOf(req), svc, rollouts, (i) => (rollouts[i + 1]?.number === rollouts[i]!.number + 1 ? rollouts[i + 1] : undefined));
      for (const v of views) if ((!values || values.has(v.status.value)) && (!reasons || reasons.has(v.status.reason))) out.push(v);
    }
    return paginated(out, q, baseOf(req), '/v3/deployments');
  });
  app.get('/v3/deployments/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    return deploymentOf(baseOf(req), svc, r);
  });
  app.post('/v3/deployments/:guid/actions/cancel', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    if (r.status !== 'IN_PROGRESS') throw new UnprocessableError(`Cannot cancel a ${r.status === 'COMPLETED' ? 'DEPLOYED' : r.status} deployment`);
    await deploys.cancelRollout(req.principal, svc.projectId, svc.id, r.number);
    return deploymentOf(baseOf(req), svc, await store.rollouts.get(r.id));
  });
  app.post('/v3/deployments/:guid/actions/continue', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    if (r.status !== 'IN_PROGRESS' || !r.paused) {
      const s = (await deploymentOf('', svc, r)).status;
      throw new UnprocessableError(`Cannot continue a deployment with status: ${s.value} and reason: ${s.reason}`);
    }
    await deploys.continueRollout(req.principal, svc.projectId, svc.id, r.number);
    return deploymentOf(baseOf(req), svc, await store.rollouts.get(r.id));
  });
}
