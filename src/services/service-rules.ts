/**
 * Rules on a service spec that a JSON schema cannot express (conditional requirements the seed states in
 * prose, references to other resources, what this installation can honour). Each broken rule names its
 * field; notices list accepted fields that have no effect here.
 */
import { parseHostedUrl } from '../builds/hosted-repos.ts';
import fs from 'node:fs';
import type { ServiceKind, ServiceSpec } from '../domain/service.ts';
import { findPlan } from '../domain/plans.ts';
import type { FieldProblem } from '../errors/errors.ts';
import { autoscalePolicy, autoscalingProblems } from '../autoscaler/spec.ts';

export interface Capabilities {
  runtime: string;
  images: boolean;
  dockerfile: boolean;
}

export function checkServiceSpec(kind: ServiceKind, spec: ServiceSpec, caps: Capabilities): { problems: FieldProblem[]; unsupported: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const unsupported: FieldProblem[] = [];
  const bad = (field: string, rule: string, message: string) => problems.push({ field, rule, message });

  if (spec.billing?.deploymentPlan && !findPlan(spec.billing.deploymentPlan)) {
    bad('billing.deploymentPlan', 'exists', `unknown plan '${spec.billing.deploymentPlan}': see GET /v1/plans`);
  }
  const d = spec.deployment;
  const bp = d?.buildpack;
  if (bp) {
    if (bp.configType === 'customProcess' && !bp.customProcess) bad('deployment.buildpack.customProcess', 'required', "required when configType is 'customProcess'");
    if (['customCommand', 'customEntrypointCustomCommand', 'originalEntrypointCustomCommand'].includes(bp.configType) && !bp.customCommand)
      bad('deployment.buildpack.customCommand', 'required', `required when configType is '${bp.configType}'`);
    if (bp.configType === 'customEntrypointCustomCommand' && !bp.customEntrypoint) bad('deployment.buildpack.customEntrypoint', 'required', "required when configType is 'customEntrypointCustomCommand'");
  }
  const dk = d?.docker;
  if (dk) {
    if (['customEntrypoint', 'customEntrypointCustomCommand'].includes(dk.configType) && !dk.customEntrypoint)
      bad('deployment.docker.customEntrypoint', 'required', `required when configType is '${dk.configType}'`);
    if (['customCommand', 'customEntrypointCustomCommand'].includes(dk.configType) && !dk.customCommand)
      bad('deployment.docker.customCommand', 'required', `required when configType is '${dk.configType}'`);
  }
  const names = new Set<string>();
  const numbers = new Set<number>();
  (spec.ports ?? []).forEach((p, i) => {
    if (names.has(p.name)) bad(`ports.${i}.name`, 'unique', `port name '${p.name}' is used twice`);
    if (numbers.has(p.internalPort)) bad(`ports.${i}.internalPort`, 'unique', `internalPort ${p.internalPort} is used twice`);
    names.add(p.name);
    numbers.add(p.internalPort);
    if (p.protocol === 'UDP') unsupported.push({ field: `ports.${i}.protocol`, rule: 'supported', message: 'UDP ports are not supported by the slipway router; use TCP' });
  });
  (spec.healthChecks ?? []).forEach((h, i) => {
    if (h.protocol === 'HTTP') {
      if (!h.path) bad(`healthChecks.${i}.path`, 'required', 'required when protocol is HTTP');
      if (!h.port) bad(`healthChecks.${i}.port`, 'required', 'required when protocol is HTTP');
    }
    if (h.protocol === 'TCP' && !h.port) bad(`healthChecks.${i}.port`, 'required', 'required when protocol is TCP');
    if (h.protocol === 'CMD' && !h.cmd) bad(`healthChecks.${i}.cmd`, 'required', 'required when protocol is CMD');
    if (h.port && !numbers.has(h.port)) bad(`healthChecks.${i}.port`, 'exists', `port ${h.port} is not one of the service's ports`);
  });
  if (kind !== 'build') problems.push(...autoscalingProblems(spec, [...numbers]));
  for (const path of Object.keys(spec.runtimeFiles ?? {})) {
    if (!path.startsWith('/') || path.split('/').includes('..')) bad(`runtimeFiles.${path}`, 'absolutePath', 'file path must be absolute and must not contain ..');
  }
  for (const key of Object.keys(spec.runtimeEnvironment ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) bad(`runtimeEnvironment.${key}`, 'pattern', 'variable names must match ^[A-Za-z_][A-Za-z0-9_]*$');
    if (key === 'PORT' || key.startsWith('SLIPWAY_')) bad(`runtimeEnvironment.${key}`, 'reserved', 'PORT and SLIPWAY_* are set by the platform');
  }
  if (d?.external && !caps.images) {
    unsupported.push({ field: 'deployment.external', rule: 'supported', message: `image deployments need the container runtime (SLIPWAY_RUNTIME=docker); this platform runs the '${caps.runtime}' runtime` });
  }
  if (spec.buildSettings?.dockerfile && !caps.dockerfile) {
    unsupported.push({ field: 'buildSettings.dockerfile', rule: 'supported', message: 'Dockerfile builds need the container runtime (SLIPWAY_RUNTIME=docker); use buildSettings.buildpack' });
  }
  const dockerfile = spec.buildSettings?.dockerfile as { dockerFilePath?: unknown; dockerWorkDir?: unknown } | undefined;
  for (const f of ['dockerFilePath', 'dockerWorkDir'] as const) {
    const v = dockerfile?.[f];
    if (typeof v === 'string' && v.split(/[\\/]/).includes('..')) bad(`buildSettings.dockerfile.${f}`, 'insideRepository', "must not contain '..': the path is relative to the repository root, e.g. '/docker/Dockerfile'");
  }
  if (spec.vcsData && (kind === 'combined' || kind === 'build')) {
    const url = spec.vcsData.projectUrl;
    const local = url?.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
    if (url && parseHostedUrl(url)) {
      // A repository slipway hosts (pushed to over HTTP): it exists once named.
    } else if (!local || !local.startsWith('/')) {
      unsupported.push({ field: 'vcsData.projectUrl', rule: 'supported', message: "only local repositories are supported: an absolute path, a file:// URL with projectType 'self-hosted', or a repository slipway hosts (http://<api>/git/<project>/<service>.git)" });
    } else if (!fs.existsSync(local)) {
      bad('vcsData.projectUrl', 'exists', `no repository at ${local}`);
    }
  }
  return { problems, unsupported };
}

/** Accepted fields that have no effect on this installation, said plainly in every service response. */
export function noticesFor(spec: ServiceSpec, caps: Capabilities): string[] {
  const out: string[] = [];
  const d = spec.deployment;
  if (spec.billing?.gpu?.enabled || d?.gpu?.enabled) out.push(`gpu: stored, no effect on the '${caps.runtime}' runtime (no GPUs are scheduled)`);
  if (d?.zonalRedundancy?.type && d.zonalRedundancy.type !== 'disabled') out.push('zonalRedundancy: stored, no effect: slipway runs in a single zone');
  if (d?.type === 'statefulSet') out.push("deployment.type 'statefulSet': stored; instances run as a deployment on this runtime");
  // The docker runtime sizes /dev/shm and limits each container's writable storage; other runtimes do neither.
  if ((d?.storage?.ephemeralStorage?.storageSize || d?.storage?.shmSize) && caps.runtime !== 'docker') out.push(`storage: stored, not enforced on the '${caps.runtime}' runtime`);
  if (d?.metadata) out.push('metadata labels/annotations: stored, not applied on this runtime');
  const scaling = autoscalePolicy(spec);
  if (scaling) out.push(`autoscaling: on; deployment.instances is set by the autoscaler between ${scaling.minReplicas} and ${scaling.maxReplicas}`);
  if ((spec.ports ?? []).some((p) => p.security && (p.security as { sso?: unknown }).sso)) out.push('ports[].security.sso: stored, no effect: slipway has no SSO provider');
  if (caps.runtime === 'process') out.push('plan memory and CPU are advisory on the process runtime');
  return out;
}
