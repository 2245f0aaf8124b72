/**
 * What the use cases need from the rest of the platform, as interfaces: main.ts wires them to the
 * controllers. Keeping them here keeps `services/` independent of the controllers and the runtime.
 */

/** Wake the controllers after a desired-state write; they re-read everything from the store. */
export interface Signals {
  serviceChanged(serviceKey: string): void;
  buildQueued(buildId: string): void;
}

export interface InstanceView {
  id: string;
  release: number | null;
  releaseId: string;
  processType: string;
  state: 'starting' | 'running' | 'ready' | 'stopping' | 'exited' | 'crashed';
  ready: boolean;
  restarts: number;
  lastExitCode: number | null;
  startedAt?: string;
  /** while ready: when its readiness check last passed after failing or not yet having run (ISO 8601, ms) */
  readyAt?: string;
  endpoint?: string;
  /** per-probe state: last success, consecutive failures, last error */
  probes?: Record<string, unknown>;
}

/** Observed state, read from the runtime through the controllers. */
export interface InstanceObserver {
  instancesOf(serviceKey: string): Promise<InstanceView[]>;
  /** Recent output lines of every instance of the service, oldest first. */
  logsOf(serviceKey: string, opts: { tail: number }): Promise<{ instance: string; ts: string; stream: string; line: string }[]>;
  /** A canary's live split on the router and the per-release metrics of the last `windowSeconds`. */
  canaryView?(serviceKey: string, windowSeconds?: number): CanaryLiveView;
}

export interface CanaryLiveView {
  split: { percent: number; effectivePercent: number; stableEndpoints: number; canaryEndpoints: number; pins: number } | null;
  windowSeconds: number;
  releases: { release: number; requests: number; errors: number; errorRate: number; latencyP50Ms: number | null; latencyP99Ms: number | null }[];
}

/** Starts the build of a build or combined service's branch head (on create, and when its source changes). */
export interface BuildTrigger {
  buildBranchHead(projectId: string, serviceId: string): Promise<void>;
}

/** What a service inherits from its project's secret groups (runtime variables and files), merged by priority. */
export interface InheritedSource {
  forRelease(svc: { projectId: string; id: string; spec: { tags?: string[] } }): Promise<{ env: Record<string, string>; files: Record<string, { data: string; encoding?: string }> }>;
}
