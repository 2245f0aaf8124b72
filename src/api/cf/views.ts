/**
 * Cloud Foundry v3 resource shapes, built from slipway's records. Guids: a space is a project (its id), an
 * app's guid is derived from its service, its web process shares the app's guid (as in CF), a build keeps
 * its build id, its droplet is `droplet-…` of the same suffix, a deployment is a rollout id and a revision
 * a release id.
 */
import { derivedGuid, serviceGuid } from '../../domain/ids.ts';
import type { ServiceRecord, HealthCheckSpec } from '../../domain/service.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import type { PackageRecord } from '../../store/packages-repo.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import type { ReleaseHead } from '../../store/releases-repo.ts';
import type { ProjectRecord } from '../../store/projects-repo.ts';
import type { InstanceView } from '../../services/ports.ts';
import type { InstanceUsage } from '../../observe/metrics/metrics-reads.ts';
import { findPlan } from '../../domain/plans.ts';

export const STACK = 'cflinuxfs4';
export const APP_PORT = 8080;

export const ORG_GUID = derivedGuid('slipway:organization:default');
export const ORG_NAME = 'default';

export function appGuid(svc: ServiceRecord): string {
  return serviceGuid(svc.projectId, svc.id, svc.createdAt);
}

export function dropletGuid(buildId: string): string {
  return buildId.replace(/^build-/, 'droplet-');
}

export function buildIdOfDroplet(guid: string): string | undefined {
  return guid.startsWith('droplet-') ? `build-${guid.slice('droplet-'.length)}` : undefined;
}

/** CF timestamps: ISO 8601 in UTC to the second. */
export function ts(iso: string | null | undefined): string | null {
  return iso ? `${iso.slice(0, 19)}Z` : null;
}

const META = () => ({ labels: {}, annotations: {} });

export interface Links {
  base: string;
}

function link(base: string, path: string, method?: string): { href: string; method?: string } {
  return method ? { href: `${base}${path}`, method } : { href: `${base}${path}` };
}

export function paginated<T>(items: T[], q: { page?: number; per_page?: number }, base: string, path: string, extraQuery = ''): { pagination: unknown; resources: T[] } {
  const perPage = q.per_page ?? 50;
  const page = q.page ?? 1;
  const total = items.length;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const href = (p: number) => ({ href: `${base}${path}?page=${p}&per_page=${perPage}${extraQuery}` });
  return {
    pagination: {
      total_results: total,
      total_pages: pages,
      first: href(1),
      last: href(pages),
      next: page < pages ? href(page + 1) : null,
      previous: page > 1 ? href(Math.min(page - 1, pages)) : null,
    },
    resources: items.slice((page - 1) * perPage, page * perPage),
  };
}

export function orgView(base: string, created: string) {
  return {
    guid: ORG_GUID,
    created_at: ts(created),
    updated_at: ts(created),
    name: ORG_NAME,
    suspended: false,
    relationships: { quota: { data: null } },
    metadata: META(),
    links: { self: link(base, `/v3/organizations/${ORG_GUID}`), domains: link(base, `/v3/organizations/${ORG_GUID}/domains`), default_domain: link(base, `/v3/organizations/${ORG_GUID}/domains/default`), quota: link(base, `/v3/organizations/${ORG_GUID}`) },
  };
}

export function spaceView(base: string, p: ProjectRecord) {
  return {
    guid: p.id,
    created_at: ts(p.createdAt),
    updated_at: ts(p.updatedAt),
    name: p.name,
    relationships: { organization: { data: { guid: ORG_GUID } }, quota: { data: null } },
    metadata: META(),
    links: { self: link(base, `/v3/spaces/${p.id}`), organization: link(base, `/v3/organizations/${ORG_GUID}`), features: link(base, `/v3/spaces/${p.id}/features`), apply_manifest: link(base, `/v3/spaces/${p.id}/actions/apply_manifest`, 'POST') },
  };
}

const LIFECYCLE = { type: 'buildpack', data: { buildpacks: [] as string[], stack: STACK } };

export function appView(base: string, svc: ServiceRecord) {
  const g = appGuid(svc);
  const a = `/v3/apps/${g}`;
  return {
    guid: g,
    name: svc.spec.name,
    state: svc.paused ? 'STOPPED' : 'STARTED',
    created_at: ts(svc.createdAt),
    updated_at: ts(svc.updatedAt),
    lifecycle: LIFECYCLE,
    relationships: { space: { data: { guid: svc.projectId } } },
    metadata: META(),
    links: {
      self: link(base, a),
      space: link(base, `/v3/spaces/${svc.projectId}`),
      processes: link(base, `${a}/processes`),
      packages: link(base, `${a}/packages`),
      environment_variables: link(base, `${a}/environment_variables`),
      current_droplet: link(base, `${a}/droplets/current`),
      droplets: link(base, `${a}/droplets`),
      tasks: link(base, `${a}/tasks`),
      start: link(base, `${a}/actions/start`, 'POST'),
      stop: link(base, `${a}/actions/stop`, 'POST'),
      revisions: link(base, `${a}/revisions`),
      deployed_revisions: link(base, `${a}/revisions/deployed`),
      features: link(base, `${a}/features`),
    },
  };
}

export function packageView(base: string, pkg: PackageRecord, app: string) {
  return {
    guid: pkg.id,
    type: pkg.type,
    data: { checksum: { type: 'sha256', value: pkg.digest }, error: pkg.error },
    state: pkg.state,
    created_at: ts(pkg.createdAt),
    updated_at: ts(pkg.updatedAt),
    relationships: { app: { data: { guid: app } } },
    metadata: META(),
    links: {
      self: link(base, `/v3/packages/${pkg.id}`),
      upload: link(base, `/v3/packages/${pkg.id}/upload`, 'POST'),
      download: link(base, `/v3/packages/${pkg.id}/download`, 'GET'),
      app: link(base, `/v3/apps/${app}`),
    },
  };
}

export function buildState(b: BuildRecord): 'STAGING' | 'STAGED' | 'FAILED' {
  return b.status === 'SUCCESS' ? 'STAGED' : b.status === 'FAILURE' || b.status === 'ABORTED' ? 'FAILED' : 'STAGING';
}

export function buildView(base: string, b: BuildRecord, app: string, packageGuid: string | null) {
  const state = buildState(b);
  return {
    guid: b.id,
    created_at: ts(b.createdAt),
    updated_at: ts(b.finishedAt ?? b.startedAt ?? b.createdAt),
    state,
    staging_memory_in_mb: 1024,
    staging_disk_in_mb: 4096,
    staging_log_rate_limit_bytes_per_second: -1,
    error: state === 'FAILED' ? `StagingError - ${b.error ?? 'the build failed'}` : null,
    lifecycle: LIFECYCLE,
    package: { guid: packageGuid },
    droplet: state === 'STAGED' ? { guid: dropletGuid(b.id) } : null,
    created_by: { guid: null, name: null, email: null },
    relationships: { app: { data: { guid: app } } },
    metadata: META(),
    links: {
      self: link(base, `/v3/builds/${b.id}`),
      app: link(base, `/v3/apps/${app}`),
      ...(state === 'STAGED' ? { droplet: link(base, `/v3/droplets/${dropletGuid(b.id)}`) } : {}),
    },
  };
}

export function dropletView(base: string, b: BuildRecord, app: string, packageGuid: string | null) {
  const g = dropletGuid(b.id);
  const web = b.processes?.web;
  return {
    guid: g,
    state: b.status === 'SUCCESS' ? 'STAGED' : 'FAILED',
    error: null,
    lifecycle: { type: 'buildpack', data: {} },
    execution_metadata: '',
    process_types: b.processes ?? (web ? { web } : {}),
    checksum: { type: 'sha256', value: b.sha.startsWith('bundle:') ? b.sha.slice('bundle:'.length) : null },
    buildpacks: [{ name: 'nodejs', detect_output: 'nodejs', buildpack_name: 'nodejs', version: null }],
    stack: STACK,
    image: null,
    created_at: ts(b.finishedAt ?? b.createdAt),
    updated_at: ts(b.finishedAt ?? b.createdAt),
    relationships: { app: { data: { guid: app } } },
    metadata: META(),
    links: {
      self: link(base, `/v3/droplets/${g}`),
      ...(packageGuid ? { package: link(base, `/v3/packages/${packageGuid}`) } : {}),
      app: link(base, `/v3/apps/${app}`),
      assign_current_droplet: link(base, `/v3/apps/${app}/relationships/current_droplet`, 'PATCH'),
      download: link(base, `/v3/droplets/${g}/download`),
    },
  };
}

type CfCheckType = 'port' | 'process' | 'http';

function checkOf(h: HealthCheckSpec | undefined, fallback: CfCheckType) {
  if (!h) return { type: fallback, data: { timeout: null, invocation_timeout: null, interval: null, ...(fallback === 'http' ? { endpoint: null } : {}) } };
  const type: CfCheckType = h.protocol === 'HTTP' ? 'http' : h.protocol === 'TCP' ? 'port' : 'process';
  return { type, data: { timeout: h.type === 'startupProbe' ? h.periodSeconds * h.failureThreshold : null, invocation_timeout: h.timeoutSeconds, interval: h.periodSeconds, ...(type === 'http' ? { endpoint: h.path ?? '/' } : {}) } };
}

export function processView(base: string, svc: ServiceRecord, release: ReleaseRecord | undefined) {
  const g = appGuid(svc);
  const checks = svc.spec.healthChecks ?? [];
  const startup = checks.find((h) => h.type === 'startupProbe') ?? checks.find((h) => h.type === 'livenessProbe');
  const readiness = checks.find((h) => h.type === 'readinessProbe');
  const plan = findPlan(svc.spec.billing?.deploymentPlan ?? '');
  const cmd = release?.spec.processes.web;
  return {
    guid: g,
    type: 'web',
    command: cmd ? cmd.join(' ') : null,
    instances: svc.spec.deployment?.instances ?? 0,
    memory_in_mb: plan?.memoryMb ?? null,
    disk_in_mb: 1024,
    log_rate_limit_in_bytes_per_second: -1,
    health_check: checkOf(startup, 'port'),
    readiness_health_check: checkOf(readiness, 'process'),
    relationships: { app: { data: { guid: g } }, revision: release ? { data: { guid: release.id } } : { data: null } },
    metadata: META(),
    created_at: ts(svc.createdAt),
    updated_at: ts(svc.updatedAt),
    links: {
      self: link(base, `/v3/processes/${g}`),
      scale: link(base, `/v3/processes/${g}/actions/scale`, 'POST'),
      app: link(base, `/v3/apps/${g}`),
      space: link(base, `/v3/spaces/${svc.projectId}`),
      stats: link(base, `/v3/processes/${g}/stats`),
    },
  };
}

/**
 * A process's stats. `usage` is each instance's latest sample from metrics collection (CPU as a fraction of
 * one core, memory in bytes); with collection off, or before an instance's first sample, it is zero. Disk and
 * log rate are not measured: an instance writes to memory-backed /tmp and volumes, not to a disk of its own.
 */
export function statsView(svc: ServiceRecord, instances: InstanceView[], usage?: Map<string, InstanceUsage>) {
  const memQuota = (findPlan(svc.spec.billing?.deploymentPlan ?? '')?.memoryMb ?? 0) * 1024 * 1024;
  const live = instances.filter((i) => i.processType === 'web' || !i.processType).sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '') || a.id.localeCompare(b.id));
  const now = Date.now();
  return {
    resources: live.map((i, index) => {
      const [host, port] = (i.endpoint ?? '').split(':');
      const state = i.state === 'crashed' || i.state === 'exited' ? 'CRASHED' : i.state === 'stopping' ? 'DOWN' : i.ready ? 'RUNNING' : 'STARTING';
      return {
        type: 'web',
        index,
        state,
        routable: i.ready,
        host: host || null,
        instance_internal_ip: host || null,
        instance_ports: port ? [{ external: Number(port), internal: APP_PORT, external_tls_proxy_port: null, internal_tls_proxy_port: null }] : [],
        uptime: i.startedAt ? Math.max(0, Math.floor((now - Date.parse(i.startedAt)) / 1000)) : 0,
        mem_quota: memQuota,
        disk_quota: 1024 * 1024 * 1024,
        log_rate_limit: -1,
        fds_quota: 16384,
        isolation_segment: null,
        details: i.state === 'crashed' ? `exited with code ${i.lastExitCode}` : null,
        usage: usageView(usage?.get(i.id), now),
      };
    }),
  };
}

export type DeploymentReason = 'DEPLOYING' | 'PAUSED' | 'CANCELING' | 'DEPLOYED' | 'CANCELED' | 'SUPERSEDED';

/** CF status of a rollout: ACTIVE while it (or the return after its cancel) runs, FINALIZED after. */
export function deploymentStatus(r: RolloutRecord, next: RolloutRecord | undefined): { value: 'ACTIVE' | 'FINALIZED'; reason: DeploymentReason } {
  if (r.status === 'IN_PROGRESS') return { value: 'ACTIVE', reason: r.paused ? 'PAUSED' : 'DEPLOYING' };
  if (r.status === 'COMPLETED') return { value: 'FINALIZED', reason: 'DEPLOYED' };
  if (r.status === 'SUPERSEDED') return { value: 'FINALIZED', reason: 'SUPERSEDED' };
  // CANCELED by request, or FAILED past its progress deadline: both return to the previous release.
  const returning = next && next.kind === 'return' && next.status === 'IN_PROGRESS';
  return returning ? { value: 'ACTIVE', reason: 'CANCELING' } : { value: 'FINALIZED', reason: 'CANCELED' };
}

export function deploymentView(
  base: string,
  svc: ServiceRecord,
  r: RolloutRecord,
  ctx: { next?: RolloutRecord; to?: ReleaseHead; from?: ReleaseHead; lastEventAt?: string; lastReadyAt?: string },
) {
  const app = appGuid(svc);
  const status = deploymentStatus(r, ctx.next);
  const steps = r.options.canarySteps;
  const self = `/v3/deployments/${r.id}`;
  return {
    guid: r.id,
    created_at: ts(r.createdAt),
    updated_at: ts(r.finishedAt ?? ctx.lastEventAt ?? r.createdAt),
    status: {
      value: status.value,
      reason: status.reason,
      details: {
        last_successful_healthcheck: ts(ctx.lastReadyAt ?? r.createdAt),
        last_status_change: ts(r.finishedAt ?? ctx.lastEventAt ?? r.createdAt),
        ...(r.status === 'FAILED' ? { error: r.message } : {}),
      },
      ...(steps ? { canary: { steps: { current: Math.min(r.stepIndex + 1, steps.length), total: steps.length } } } : {}),
    },
    strategy: steps ? 'canary' : 'rolling',
    options: {
      max_in_flight: r.options.maxInFlight ?? 1,
      web_instances: svc.spec.deployment?.instances ?? 0,
      memory_in_mb: findPlan(svc.spec.billing?.deploymentPlan ?? '')?.memoryMb ?? null,
      disk_in_mb: 1024,
      log_rate_limit_in_bytes_per_second: -1,
      ...(steps ? { canary: { steps: steps.map((s) => ({ instance_weight: s.instanceWeight ?? Math.max(1, Math.round(s.trafficPercent ?? 1)) })) } } : {}),
    },
    droplet: { guid: ctx.to?.buildId ? dropletGuid(ctx.to.buildId) : null },
    previous_droplet: { guid: ctx.from?.buildId ? dropletGuid(ctx.from.buildId) : null },
    new_processes: [{ guid: app, type: 'web' }],
    revision: ctx.to ? { guid: ctx.to.id, version: ctx.to.number } : null,
    relationships: { app: { data: { guid: app } } },
    metadata: META(),
    links: {
      self: link(base, self),
      app: link(base, `/v3/apps/${app}`),
      cancel: link(base, `${self}/actions/cancel`, 'POST'),
      continue: link(base, `${self}/actions/continue`, 'POST'),
    },
  };
}

function describe(rel: ReleaseRecord, prev: ReleaseRecord | undefined): string {
  if (!prev) return 'Initial revision.';
  const parts: string[] = [];
  if (rel.spec.restartedAt && rel.spec.restartedAt !== prev.spec.restartedAt) parts.push('Redeployed.');
  if (rel.buildId !== prev.buildId) parts.push('New droplet deployed.');
  if (JSON.stringify(rel.spec.env) !== JSON.stringify(prev.spec.env)) parts.push('New environment variables deployed.');
  if (JSON.stringify(rel.spec.processes) !== JSON.stringify(prev.spec.processes)) parts.push('Custom start command updated.');
  return parts.length ? parts.join(' ') : 'Configuration updated.';
}

export function revisionView(base: string, svc: ServiceRecord, rel: ReleaseRecord, prev: ReleaseRecord | undefined, deployed: boolean) {
  const app = appGuid(svc);
  return {
    guid: rel.id,
    version: rel.number,
    droplet: { guid: rel.buildId ? dropletGuid(rel.buildId) : null },
    processes: Object.fromEntries(Object.entries(rel.spec.processes).map(([type, argv]) => [type, { command: argv.join(' ') }])),
    sidecars: [],
    description: describe(rel, prev),
    deployable: !!rel.buildId || !!rel.spec.image,
    deployed,
    relationships: { app: { data: { guid: app } } },
    created_at: ts(rel.createdAt),
    updated_at: ts(rel.createdAt),
    metadata: META(),
    links: { self: link(base, `/v3/revisions/${rel.id}`), app: link(base, `/v3/apps/${app}`), environment_variables: link(base, `/v3/revisions/${rel.id}/environment_variables`) },
  };
}

function usageView(u: InstanceUsage | undefined, now: number) {
  const time = new Date(u ? u.at * 1000 : now).toISOString().slice(0, 19) + 'Z';
  return { time, cpu: u?.cpuCores ?? 0, mem: u?.memoryBytes ?? 0, disk: 0, log_rate: 0 };
}
