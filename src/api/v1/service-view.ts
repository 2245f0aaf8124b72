/**
 * Service records → the Northflank response shape (seed 000: `GET` service), with slipway's additions:
 * `ports[].dns` (where the port answers through the router) and `notices` (accepted fields that have no
 * effect here).
 */
import type { ServiceDetails } from '../../services/service-catalog.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import type { ProjectRecord } from '../../store/projects-repo.ts';
import { portDns } from '../../domain/hosts.ts';

export function projectView(p: ProjectRecord): Record<string, unknown> {
  return { id: p.id, name: p.name, ...(p.description ? { description: p.description } : {}), ...p.spec, createdAt: p.createdAt, updatedAt: p.updatedAt };
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

/** A service's ports as Northflank shows them: `id` (the name), `dns` of a public HTTP port, passwords redacted. */
export function portsView(s: Pick<ServiceRecord, 'projectId' | 'id' | 'spec'>, domain: string): Record<string, unknown>[] {
  return (s.spec.ports ?? []).map((p) => ({
    ...p,
    ...(p.security ? { security: redactSecurity(p.security) } : {}),
    id: p.name,
    ...(p.public && (p.protocol === 'HTTP' || p.protocol === 'HTTP/2') && !(p.disableNfDomain && p.domains?.length) ? { dns: portDns(domain, s.projectId, s.id, p.name) } : {}),
  }));
}

export function serviceView(d: ServiceDetails, domain: string): Record<string, unknown> {
  const s = d.service;
  const spec = s.spec;
  const ports = portsView(s, domain);
  const deployment = spec.deployment
    ? {
        ...spec.deployment,
        ...(d.release?.spec.buildId ? { internal: { ...spec.deployment.internal, ...(s.kind === 'deployment' ? {} : { id: s.id }), buildId: spec.deployment.internal?.buildId ?? d.release.spec.buildId } } : {}),
      }
    : undefined;
  const status: Record<string, unknown> = {
    deployment: { status: s.deployStatus, reason: s.deployReason, lastTransitionTime: s.deployTransitionAt, ...(s.deployMessage ? { message: s.deployMessage } : {}) },
  };
  if (s.kind !== 'deployment') {
    const b = buildStatusView(d.lastBuild);
    if (b) status.build = b;
  }
  return {
    ...spec,
    id: s.id,
    appId: `/${s.projectId}/${s.id}`,
    serviceType: s.kind,
    ports,
    ...(deployment && s.kind !== 'build' ? { deployment } : {}),
    cluster: { id: 'slipway', name: 'slipway', namespace: s.projectId, loadBalancers: [domain] },
    paused: s.paused,
    ...(d.release ? { release: { id: d.release.id, number: d.release.number } } : {}),
    notices: d.notices,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    status,
  };
}

export function serviceListItem(s: ServiceRecord): Record<string, unknown> {
  return {
    id: s.id,
    appId: `/${s.projectId}/${s.id}`,
    name: s.name,
    ...(s.spec.description ? { description: s.spec.description } : {}),
    serviceType: s.kind,
    disabledCI: false,
    disabledCD: false,
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
