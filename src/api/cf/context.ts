/**
 * What the Cloud Foundry `/v3` route modules share: list filters, the request's base URL, completed jobs, and
 * the lookups of spaces, apps and their current droplet as the caller may see them.
 */
import crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import { NotFoundError } from '../../errors/errors.ts';
import { ts } from './views.ts';

export function csv(v: unknown): Set<string> | undefined {
  return typeof v === 'string' && v !== '' ? new Set(v.split(',')) : undefined;
}

export function baseOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

export function jobView(base: string, operation: string) {
  const guid = `job-${crypto.randomUUID()}`;
  const now = ts(new Date().toISOString());
  return { guid, created_at: now, updated_at: now, operation, state: 'COMPLETE', errors: [], warnings: [], links: { self: { href: `${base}/v3/jobs/${guid}` } } };
}

export function cfLookups(deps: ApiDeps) {
  const { auth, store } = deps;
  const visibleProjects = async (p: Principal) => store.projects.list({ limit: 100_000, ids: auth.visibleProjects(p) });
  const allApps = async (p: Principal): Promise<ServiceRecord[]> => {
    const out: ServiceRecord[] = [];
    for (const proj of await visibleProjects(p)) out.push(...(await store.services.list(proj.id, { limit: 100_000 })).filter((s) => s.kind !== 'build'));
    return out;
  };
  const findApp = async (p: Principal, guid: string): Promise<ServiceRecord> => {
    // By the indexed GUID; a service in a project the caller cannot see is as unknown as a missing one.
    const svc = await store.services.findByGuid(guid);
    const visible = auth.visibleProjects(p);
    if (!svc || svc.kind === 'build' || (visible && !visible.includes(svc.projectId))) throw new NotFoundError('app', guid);
    return svc;
  };
  const appOfKey = async (p: Principal, key: string): Promise<ServiceRecord> => {
    const [projectId, serviceId] = key.split('/');
    auth.authorize(p, projectId, 'read');
    return store.services.get(projectId, serviceId);
  };
  const currentBuildId = async (svc: ServiceRecord): Promise<string | undefined> => {
    const pinned = svc.spec.deployment?.internal?.id === svc.id ? svc.spec.deployment.internal.buildId : undefined;
    if (pinned) return pinned;
    const rel = svc.targetReleaseId ? await store.releases.find(svc.targetReleaseId) : undefined;
    return rel?.buildId ?? undefined;
  };
  return { visibleProjects, allApps, findApp, appOfKey, currentBuildId };
}

export type CfLookups = ReturnType<typeof cfLookups>;
