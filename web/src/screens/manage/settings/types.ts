/** The parts of a `/v1` service the settings screens read and write. */
export interface SecurityPolicies {
  credentials?: { username: string; password: string; type: 'basic-auth' }[];
  policies?: { addresses: string[]; action: 'ALLOW' | 'DENY' }[];
  ip?: { addresses: string[]; action: 'ALLOW' | 'DENY' }[];
  headers?: { name?: string; value?: string; regexMode?: boolean }[];
  verificationMode?: 'or' | 'and';
  securePathConfiguration?: { enabled?: boolean; rules?: { paths: { path?: string; routingMode: 'prefix' | 'exact' | 'regex'; priority?: number }[]; accessMode?: 'protected' | 'unprotected' }[] };
}
export interface PortView {
  name: string;
  internalPort: number;
  public?: boolean;
  protocol: 'HTTP' | 'HTTP/2' | 'TCP' | 'UDP';
  domains?: (string | { name: string; status?: string })[];
  security?: SecurityPolicies;
  dns?: string;
}
export interface HealthCheckView {
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
export interface ServiceView {
  id: string;
  name: string;
  serviceType: 'deployment' | 'combined' | 'build';
  billing?: { deploymentPlan?: string };
  deployment?: { instances?: number; strategy?: { type?: string }; internal?: { id?: string; branch?: string }; external?: { imagePath: string; credentials?: string } };
  runtimeEnvironment?: Record<string, string>;
  runtimeFiles?: Record<string, { data: string; encoding?: string }>;
  ports?: PortView[];
  healthChecks?: HealthCheckView[];
  vcsData?: { projectUrl: string; projectBranch?: string; projectType?: string };
  buildSource?: 'git' | 'bundle';
  buildSettings?: { dockerfile?: { dockerFilePath: string; dockerWorkDir: string }; buildpack?: Record<string, unknown> };
  buildConfiguration?: { pathIgnoreRules?: string[]; isAllowList?: boolean; ciIgnoreFlagsEnabled?: boolean; ciIgnoreFlags?: string[] };
  release?: { number: number };
}

/** Saves one change and returns; the page then follows the rollout it made. */
export type Save = (what: string, call: () => Promise<unknown>) => Promise<void>;

export const svcPath = (p: string, s: string) => `/v1/projects/${encodeURIComponent(p)}/services/${encodeURIComponent(s)}`;
