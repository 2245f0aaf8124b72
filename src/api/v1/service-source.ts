/**
 * The service view with what Northflank reports of a deployment's source: the repository and branch it
 * deploys and the commit of the build it runs. A combined service is its own source; a deployment service's
 * `deployment.internal.id` names the build or combined service it deploys from, read here with the caller's
 * rights (a source the caller cannot read, or one that is gone, leaves the fields empty rather than failing
 * the read of the service itself).
 */
import type { Principal } from '../../services/auth.ts';
import type { ServiceDetails } from '../../services/service-catalog.ts';
import type { ApiDeps } from '../deps.ts';
import { serviceView, type DeployedSource } from './service-view.ts';

/** `domains: 'objects'` for reads of the service (see `portsView`). */
export type ServiceViewer = (caller: Principal, d: ServiceDetails, opts?: { domains?: 'names' | 'objects' }) => Promise<Record<string, unknown>>;

export function serviceViewer(deps: Pick<ApiDeps, 'catalog' | 'builds' | 'domain'>): ServiceViewer {
  const { catalog, builds, domain } = deps;
  async function sourceOf(caller: Principal, d: ServiceDetails): Promise<DeployedSource | undefined> {
    const s = d.service;
    if (s.kind === 'build') return undefined;
    const fromId = s.kind === 'combined' ? s.id : s.spec.deployment?.internal?.id;
    if (!fromId) return undefined;
    const buildId = s.spec.deployment?.internal?.buildId ?? d.release?.spec.buildId;
    // The source and its build are read at once (each a round trip to the store on every read of the service).
    const [from, build] = await Promise.all([
      fromId === s.id ? s : catalog.record(caller, s.projectId, fromId).catch(() => undefined),
      buildId ? builds.get(caller, s.projectId, fromId, buildId).catch(() => undefined) : undefined,
    ]);
    if (!from) return undefined;
    const vcs = from.spec.vcsData;
    const bundle = from.spec.bundleData as { bundleUrl?: string; branch?: string } | undefined;
    return {
      repository: vcs?.projectUrl ?? bundle?.bundleUrl ?? '',
      branch: vcs?.projectBranch ?? bundle?.branch ?? build?.branch ?? '',
      ...(build && !build.sha.startsWith('bundle:') ? { deployedSHA: build.sha } : {}),
    };
  }
  return async (caller, d, opts = {}) => serviceView(d, domain, { ...opts, source: await sourceOf(caller, d) });
}
