/**
 * The service model shared by every API face. `ServiceSpec` is the user's desired state in Northflank's
 * shape (the `/v1` body, which is the richest of the three faces); the other faces translate into it.
 */

export type ServiceKind = 'deployment' | 'combined' | 'build';
export type DeploymentStatus = 'PENDING' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
export type DeploymentReason = 'SCALING' | 'DEPLOYING';

export interface PortSpec {
  name: string;
  internalPort: number;
  public?: boolean;
  protocol: 'HTTP' | 'HTTP/2' | 'TCP' | 'UDP';
  security?: Record<string, unknown>;
  domains?: string[];
  disableNfDomain?: boolean;
  advancedOptions?: { enableTlsPassthrough?: boolean };
}

export interface HealthCheckSpec {
  protocol: 'HTTP' | 'CMD' | 'TCP';
  type: 'livenessProbe' | 'readinessProbe' | 'startupProbe';
  path?: string;
  cmd?: string;
  port?: number;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  successThreshold?: number;
}

export interface DeploymentSpec {
  type?: 'deployment' | 'statefulSet';
  instances: number;
  buildpack?: { configType: string; customProcess?: string; customEntrypoint?: string; customCommand?: string };
  docker?: { configType: string; customEntrypoint?: string; customCommand?: string };
  storage?: { ephemeralStorage?: { storageSize?: number }; shmSize?: number };
  strategy?: { type?: 'recreate' | 'rollout-steady' | 'rollout-balanced' | 'rollout-fast' };
  zonalRedundancy?: { type?: string; minZones?: number };
  gpu?: { enabled?: boolean; configuration?: Record<string, unknown> };
  gracePeriodSeconds?: number;
  metadata?: { labels?: Record<string, unknown>; annotations?: Record<string, unknown> };
  internal?: { id?: string; branch?: string; buildSHA?: string; buildId?: string };
  external?: { imagePath: string; credentials?: string };
}

export interface ProcessTypeSpec {
  quantity: number;
  size?: string;
  command?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** The stored desired state of a service: the Northflank body, normalised. */
export interface ServiceSpec {
  name: string;
  description?: string;
  tags?: string[];
  billing: { deploymentPlan: string; gpu?: Record<string, unknown> };
  deployment?: DeploymentSpec;
  ports?: PortSpec[];
  runtimeEnvironment?: Record<string, string>;
  runtimeFiles?: Record<string, { data: string; encoding?: string }>;
  healthChecks?: HealthCheckSpec[];
  loadBalancing?: Record<string, unknown>;
  autoscaling?: Record<string, unknown>;
  vcsData?: { projectUrl: string; projectType?: string; projectBranch?: string; [k: string]: unknown };
  buildSettings?: { dockerfile?: Record<string, unknown>; buildpack?: Record<string, unknown>; [k: string]: unknown };
  buildConfiguration?: Record<string, unknown>;
  buildArguments?: Record<string, string>;
  /**
   * Process types other than `web` (formations): how many instances of each, their size (plan) and command
   * override. `web` keeps its count in `deployment.instances` and its plan in `billing.deploymentPlan`.
   */
  processTypes?: Record<string, ProcessTypeSpec>;
  [extra: string]: unknown;
}

export interface ServiceRecord {
  projectId: string;
  id: string;
  name: string;
  kind: ServiceKind;
  spec: ServiceSpec;
  version: number;
  paused: boolean;
  targetReleaseId: string | null;
  stableReleaseId: string | null;
  deployStatus: DeploymentStatus;
  deployReason: DeploymentReason;
  deployTransitionAt: string;
  deployMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Fields of a spec that are secret: sealed at rest, never logged. */
export interface ServiceSecrets {
  runtimeEnvironment?: Record<string, string>;
  runtimeFiles?: Record<string, { data: string; encoding?: string }>;
  /** build arguments: Northflank treats them as secrets too */
  buildArguments?: Record<string, string>;
  portSecurity?: (Record<string, unknown> | undefined)[];
}

export function splitSecrets(spec: ServiceSpec): { open: ServiceSpec; secrets: ServiceSecrets } {
  const { runtimeEnvironment, runtimeFiles, buildArguments, ...rest } = spec;
  const ports = spec.ports?.map(({ security, ...p }) => p as PortSpec);
  const open: ServiceSpec = { ...rest } as ServiceSpec;
  if (ports) open.ports = ports;
  return { open, secrets: { runtimeEnvironment, runtimeFiles, buildArguments, portSecurity: spec.ports?.map((p) => p.security) } };
}

export function joinSecrets(open: ServiceSpec, secrets: ServiceSecrets): ServiceSpec {
  const spec: ServiceSpec = { ...open };
  if (secrets.runtimeEnvironment !== undefined) spec.runtimeEnvironment = secrets.runtimeEnvironment;
  if (secrets.runtimeFiles !== undefined) spec.runtimeFiles = secrets.runtimeFiles;
  if (secrets.buildArguments !== undefined) spec.buildArguments = secrets.buildArguments;
  if (open.ports) {
    spec.ports = open.ports.map((p, i) => {
      const security = secrets.portSecurity?.[i];
      return security == null ? p : { ...p, security };
    });
  }
  return spec;
}

/** Whether the service runs instances (build services only build). */
export function runsInstances(kind: ServiceKind): boolean {
  return kind !== 'build';
}
