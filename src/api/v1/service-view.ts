/**
 * Service records → the Northflank response shape (seed 000: `GET` service), with slipway's additions:
 * `ports[].dns` (where the port answers through the router) and `notices` (accepted fields that have no
 * effect here).
 */
import type { ServiceDetails } from '../../services/service-catalog.ts';
import type { ServiceRecord, ServiceSpec } from '../../domain/service.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import type { ProjectRecord } from '../../store/projects-repo.ts';
import { portDns } from '../../domain/hosts.ts';

/** The plan Northflank gives a service that names none. */
export const DEFAULT_PLAN = 'nf-compute-20';

/** A project as Northflank shows it; `deployment.region` is the region it was created with, else slipway's one (`local`). */
export function projectView(p: ProjectRecord, domain: string): Record<string, unknown> {
  const region = typeof p.spec.region === 'string' ? p.spec.region : 'local';
  return { id: p.id, name: p.name, ...(p.description ? { description: p.description } : {}), ...p.spec, deployment: { region }, cluster: clusterView(p.id, domain), createdAt: p.createdAt, updatedAt: p.updatedAt };
}

export function buildStatusView(b: BuildRecord | undefined): { status: string; lastTransitionTime?: string } | undefined {
  if (!b) return undefined;
  return { status: b.status, lastTransitionTime: b.finishedAt ?? b.startedAt ?? b.createdAt };
}

/** What a read shows instead of a basic-auth password (stored only as a SHA-512 crypt hash, never returned). */
export const REDACTED_PASSWORD = '[redacted]';

/** A port's security with every credential password replaced by the placeholder. */
function redactSecurity(security: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!security) return security;
  const redact = (list: unknown) => (Array.isArray(list) ? list.map((c) => (c && typeof c === 'object' ? { ...c, password: REDACTED_PASSWORD } : c)) : list);
  const withCreds = <T extends Record<string, unknown> | undefined>(o: T): T => (o && 'credentials' in o ? { ...o, credentials: redact(o.credentials) } : o);
  const out = withCreds(security);
  const spc = security.securePathConfiguration as { rules?: { securityPolicies?: Record<string, Record<string, unknown> | undefined> }[] } | undefined;
  if (spc?.rules) {
    out.securePathConfiguration = {
      ...spc,
      rules: spc.rules.map((r) =>
        r.securityPolicies ? { ...r, securityPolicies: { ...r.securityPolicies, orPolicies: withCreds(r.securityPolicies.orPolicies), requiredPolicies: withCreds(r.securityPolicies.requiredPolicies) } } : r,
      ),
    };
  }
  return out;
}

/**
 * A service's ports as Northflank shows them: `id` (the name), `dns` of a public HTTP port, passwords redacted.
 * Domains are names, as a write sends them and its result echoes them; reads (`GET` of a service or of its
 * ports) list them as objects with their certificate, as the client's `GetServiceResult` declares.
 */
export function portsView(s: Pick<ServiceRecord, 'projectId' | 'id' | 'spec'>, domain: string, domains: 'names' | 'objects' = 'names'): Record<string, unknown>[] {
  return (s.spec.ports ?? []).map((p) => ({
    ...p,
    ...(p.security ? { security: redactSecurity(p.security) } : {}),
    id: p.name,
    domains: domains === 'names' ? (p.domains ?? []) : (p.domains ?? []).map((name) => ({ name, certificate: { inProgress: false } })),
    ...(p.public && (p.protocol === 'HTTP' || p.protocol === 'HTTP/2') && !(p.disableNfDomain && p.domains?.length) ? { dns: portDns(domain, s.projectId, s.id, p.name) } : {}),
  }));
}

/**
 * Where a service's deployed build comes from, resolved by the caller (for a deployment service it is another
 * service of the project): the repository (or bundle) and branch, and the commit of the deployed build.
 */
export interface DeployedSource {
  repository: string;
  branch: string;
  deployedSHA?: string;
}

/** The cluster block of every service and job: slipway is one cluster, a project its namespace. */
export const clusterView = (projectId: string, domain: string) => ({ id: 'slipway', name: 'slipway', namespace: projectId, loadBalancers: [domain] });

/** Northflank's registry provider of an image path, by its registry host (no host: Docker Hub). */
export function registryProviderOf(imagePath: string): string {
  const first = imagePath.split('/')[0];
  const host = imagePath.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
  if (host === 'docker.io' || host.endsWith('.docker.io')) return 'dockerhub';
  if (host === 'ghcr.io' || host === 'docker.pkg.github.com') return 'github';
  if (host.includes('gitlab')) return 'gitlab';
  if (host.endsWith('.amazonaws.com')) return 'ecr';
  if (host.endsWith('-docker.pkg.dev') || host.endsWith('gcr.io')) return 'gar';
  if (host.endsWith('.azurecr.io')) return 'acr';
  return 'custom';
}

/** Whether continuous deployment is off: a deployment pinned to one build (or commit) does not follow new ones. */
function isCdDisabled(s: ServiceRecord): boolean {
  const internal = s.spec.deployment?.internal;
  if (s.kind === 'combined') return !!internal?.buildId || !!(internal?.buildSHA && internal.buildSHA !== 'latest');
  if (s.kind === 'build') return false;
  return !!internal && !!(internal.buildId ?? (internal.buildSHA && internal.buildSHA !== 'latest'));
}

/** Settings only the `/v1` face takes, stored and shown, that change nothing yet: said plainly. */
function faceNotices(spec: ServiceSpec): string[] {
  const rules = (spec.buildConfiguration ?? {}) as { branchRestrictions?: string[]; prRestrictions?: string[]; crossProjectAccess?: unknown };
  const out: string[] = [];
  if (spec.stageId) out.push('stageId: stored, no effect: slipway has no pipelines yet');
  if (rules.branchRestrictions?.length) out.push('buildConfiguration.branchRestrictions: stored, no effect yet: slipway builds the default (or given) branch by itself, and any branch asked for with POST …/build');
  if (rules.prRestrictions?.length) out.push('buildConfiguration.prRestrictions: stored, no effect: slipway does not build pull requests');
  if (rules.crossProjectAccess) out.push('buildConfiguration.crossProjectAccess: stored, no effect: services deploy builds of their own project only');
  return out;
}

export function serviceView(d: ServiceDetails, domain: string, opts: { source?: DeployedSource; domains?: 'names' | 'objects' } = {}): Record<string, unknown> {
  const { source } = opts;
  const s = d.service;
  const spec = s.spec;
  const ports = portsView(s, domain, opts.domains);
  const stored = spec.deployment?.internal;
  const internalId = s.kind === 'combined' ? s.id : stored?.id;
  const buildId = stored?.buildId ?? d.release?.spec.buildId;
  const deployment = spec.deployment
    ? {
        ...spec.deployment,
        ...(internalId
          ? {
              internal: {
                ...stored,
                ...(s.kind === 'deployment' ? {} : { id: s.id }),
                appId: `/${s.projectId}/${internalId}`,
                nfObjectId: internalId,
                nfObjectType: 'service',
                repository: source?.repository ?? '',
                branch: stored?.branch ?? source?.branch ?? '',
                buildSHA: stored?.buildSHA ?? 'latest',
                ...(buildId ? { buildId } : {}),
                ...(source?.deployedSHA ? { deployedSHA: source.deployedSHA } : {}),
              },
            }
          : {}),
        ...(spec.deployment.external
          ? { external: { ...spec.deployment.external, registryProvider: registryProviderOf(spec.deployment.external.imagePath), privateImage: !!spec.deployment.external.credentials } }
          : {}),
      }
    : undefined;
  const status: Record<string, unknown> = {
    deployment: { status: s.deployStatus, reason: s.deployReason, lastTransitionTime: s.deployTransitionAt, ...(s.deployMessage ? { message: s.deployMessage } : {}) },
  };
  // The autoscaler's last evaluation (slipway's addition to Northflank's status): current/desired, each metric.
  if (d.autoscaling) status.autoscaling = d.autoscaling;
  if (s.kind !== 'deployment') {
    const b = buildStatusView(d.lastBuild);
    if (b) status.build = b;
  }
  // The Dockerfile paths Northflank reports with a build source; its defaults where the build is no Dockerfile build.
  const dockerfile = spec.buildSettings?.dockerfile as { dockerWorkDir?: string; dockerFilePath?: string } | undefined;
  const dockerPaths = { dockerWorkDir: dockerfile?.dockerWorkDir ?? '/', dockerFilePath: dockerfile?.dockerFilePath ?? '/Dockerfile' };
  const bundleData = spec.bundleData as { bundleUrl: string; branch?: string } | undefined;
  return {
    ...spec,
    id: s.id,
    appId: `/${s.projectId}/${s.id}`,
    projectId: s.projectId,
    tags: spec.tags ?? [],
    serviceType: s.kind,
    disabledCI: s.kind === 'deployment' ? false : spec.disabledCI === true,
    disabledCD: isCdDisabled(s),
    billing: { ...spec.billing, deploymentPlan: spec.billing?.deploymentPlan ?? DEFAULT_PLAN },
    ...(s.kind !== 'deployment' ? { buildSource: spec.vcsData ? 'git' : 'bundle' } : {}),
    ...(spec.vcsData ? { vcsData: { ...spec.vcsData, ...dockerPaths } } : {}),
    ...(bundleData ? { bundleData: { bundleUrl: bundleData.bundleUrl, ...(bundleData.branch ? { projectBranch: bundleData.branch } : {}), ...dockerPaths } } : {}),
    ports,
    ...(deployment && s.kind !== 'build' ? { deployment } : {}),
    cluster: clusterView(s.projectId, domain),
    paused: s.paused,
    servicePaused: s.paused,
    ...(d.release ? { release: { id: d.release.id, number: d.release.number } } : {}),
    notices: [...d.notices, ...faceNotices(spec)],
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    status,
  };
}

export function serviceListItem(s: ServiceRecord): Record<string, unknown> {
  return {
    id: s.id,
    appId: `/${s.projectId}/${s.id}`,
    projectId: s.projectId,
    name: s.name,
    tags: s.spec.tags ?? [],
    ...(s.spec.description ? { description: s.spec.description } : {}),
    serviceType: s.kind,
    disabledCI: s.kind === 'deployment' ? false : s.spec.disabledCI === true,
    disabledCD: isCdDisabled(s),
    servicePaused: s.paused,
    status: { deployment: { status: s.deployStatus, reason: s.deployReason, lastTransitionTime: s.deployTransitionAt } },
  };
}

export function buildView(b: BuildRecord): Record<string, unknown> {
  const concluded = b.status === 'SUCCESS' || b.status === 'FAILURE' || b.status === 'ABORTED';
  return {
    id: b.id,
    ...(b.branch ? { branch: b.branch } : {}),
    sha: b.sha,
    status: b.status,
    concluded,
    success: b.status === 'SUCCESS',
    createdAt: b.createdAt,
    ...(b.finishedAt ? { buildConcludedAt: Date.parse(b.finishedAt) } : {}),
    message: b.error,
  };
}
