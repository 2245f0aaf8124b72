/** Cloud Foundry revisions: an app's releases, which of them run, and the environment each carried. */
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import { NotFoundError } from '../../errors/errors.ts';
import { serviceKey } from '../../domain/ids.ts';
import { appGuid, paginated, revisionView } from './views.ts';
import { GuidParams, ListQuery, type ListQ } from './schemas.ts';
import { baseOf, csv, type CfLookups } from './context.ts';

export function registerCfRevisions(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { auth, catalog, store } = deps;
  const { findApp, appOfKey } = cx;

  // ---- revisions --------------------------------------------------------------------------------------------
  /** The releases an app runs now, or is rolling out to. */
  const deployedOf = async (p: Principal, svc: ServiceRecord) => {
    const live = new Set((await catalog.instances(p, svc.projectId, svc.id)).filter((i) => i.state !== 'stopping' && i.state !== 'exited' && i.state !== 'crashed').map((i) => i.releaseId));
    if (svc.targetReleaseId) live.add(svc.targetReleaseId);
    return live;
  };
  const revisionsOf = async (p: Principal, base: string, svc: ServiceRecord, onlyDeployed: boolean) => {
    const key = serviceKey(svc.projectId, svc.id);
    const rels = (await store.releases.list(key, 1000)).sort((a, b) => a.number - b.number);
    const live = await deployedOf(p, svc);
    return rels.map((rel, i) => revisionView(base, svc, rel, rels[i - 1], live.has(rel.id))).filter((v) => !onlyDeployed || v.deployed);
  };
  app.get('/v3/apps/:guid/revisions', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const versions = csv(q.versions);
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = (await revisionsOf(req.principal, baseOf(req), svc, false)).filter((v) => !versions || versions.has(String(v.version)));
    return paginated(list, q, baseOf(req), `/v3/apps/${appGuid(svc)}/revisions`);
  });
  app.get('/v3/apps/:guid/revisions/deployed', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    return paginated(await revisionsOf(req.principal, baseOf(req), svc, true), req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/revisions/deployed`);
  });
  const findRevision = async (p: Principal, guid: string) => {
    const rel = await store.releases.find(guid);
    if (!rel) throw new NotFoundError('revision', guid);
    const svc = await appOfKey(p, rel.serviceKey).catch(() => {
      throw new NotFoundError('revision', guid);
    });
    return { rel, svc };
  };
  app.get('/v3/revisions/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { rel, svc } = await findRevision(req.principal, (req.params as { guid: string }).guid);
    // Its own release and the one before it (what its description compares with), not every release.
    const prev = rel.number > 1 ? await store.releases.byNumber(rel.serviceKey, rel.number - 1) : undefined;
    return revisionView(baseOf(req), svc, rel, prev, (await deployedOf(req.principal, svc)).has(rel.id));
  });
  app.get('/v3/revisions/:guid/environment_variables', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { rel, svc } = await findRevision(req.principal, (req.params as { guid: string }).guid);
    auth.authorize(req.principal, svc.projectId, 'write');
    return { var: rel.spec.env, links: { self: { href: `${baseOf(req)}/v3/revisions/${rel.id}/environment_variables` }, revision: { href: `${baseOf(req)}/v3/revisions/${rel.id}` }, app: { href: `${baseOf(req)}/v3/apps/${appGuid(svc)}` } } };
  });
}
