/**
 * The dashboard speaks only HTTP to the API, with the token the user typed (kept in sessionStorage for the
 * tab's life). Errors of every face (problem details, Northflank `error`, CF `errors[]`) become one message.
 */

const TOKEN_KEY = 'slipway.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = session.token();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { detail?: string; title?: string; error?: { message?: string }; errors?: { detail?: string }[]; message?: string };
    message = body.detail ?? body.error?.message ?? body.errors?.[0]?.detail ?? body.message ?? body.title ?? message;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) window.dispatchEvent(new Event('slipway:unauthorized'));
  return new ApiError(res.status, message);
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return res.text();
}

export async function post<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A file sent as the request body (an upload route reads the bytes as they are, gzipped or not). */
export async function postFile<T>(path: string, file: Blob): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: headers({ 'content-type': 'application/octet-stream' }), body: file });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export async function del(path: string): Promise<void> {
  const res = await fetch(path, { method: 'DELETE', headers: headers() });
  if (!res.ok) throw await failure(res);
}

/**
 * Server-Sent Events through fetch (EventSource cannot send the Authorization header): calls `onEvent` for
 * each event until the stream ends or `signal` aborts.
 */
export async function stream(path: string, onEvent: (type: string, data: string, id?: string) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
  if (!res.ok || !res.body) throw await failure(res);
  await readEvents(res.body, onEvent);
}

/** Reads a `text/event-stream` body to its end, calling `onEvent` for each event it holds. */
export async function readEvents(body: ReadableStream<Uint8Array<ArrayBuffer>>, onEvent: (type: string, data: string, id?: string) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
      if (data.length) onEvent(type, data.join('\n'), id);
    }
  }
}

const enc = encodeURIComponent;

/** Every API path the dashboard uses, in one place. */
export const paths = {
  projects: () => '/v1/projects?per_page=100',
  services: (p: string) => `/v1/projects/${enc(p)}/services?per_page=100`,
  service: (p: string, s: string) => `/v1/projects/${enc(p)}/services/${enc(s)}`,
  instances: (p: string, s: string) => `/projects/${enc(p)}/services/${enc(s)}/instances`,
  rollouts: (p: string, s: string) => `/projects/${enc(p)}/services/${enc(s)}/rollouts`,
  rollout: (p: string, s: string, n: number) => `/projects/${enc(p)}/services/${enc(s)}/rollouts/${n}`,
  rolloutEvents: (p: string, s: string, n: number) => `/projects/${enc(p)}/services/${enc(s)}/rollouts/${n}/events`,
  rolloutAction: (p: string, s: string, n: number, action: 'continue' | 'cancel') => `/projects/${enc(p)}/services/${enc(s)}/rollouts/${n}/${action}`,
  releases: (p: string, s: string) => `/projects/${enc(p)}/services/${enc(s)}/releases`,
  rollback: (p: string, s: string) => `/projects/${enc(p)}/services/${enc(s)}/rollback`,
  logs: (p: string, s: string) => `/projects/${enc(p)}/services/${enc(s)}/logs?tail=200`,
  action: (p: string, s: string, a: 'scale' | 'restart' | 'pause' | 'resume') => `/v1/projects/${enc(p)}/services/${enc(s)}/${a}`,
  builds: (p: string, s: string) => `/v1/projects/${enc(p)}/services/${enc(s)}/build`,
  buildLog: (p: string, s: string, b: string) => `/projects/${enc(p)}/services/${enc(s)}/builds/${enc(b)}/log`,
  volumes: (p: string) => `/v1/projects/${enc(p)}/volumes?per_page=100`,
  volumeBackups: (p: string, v: string) => `/v1/projects/${enc(p)}/volumes/${enc(v)}/backups?per_page=100`,
  backupVolume: (p: string, v: string) => `/v1/projects/${enc(p)}/volumes/${enc(v)}/backups`,
  addons: (p: string) => `/v1/projects/${enc(p)}/addons?per_page=100`,
  addon: (p: string, a: string) => `/v1/projects/${enc(p)}/addons/${enc(a)}`,
  addonBackups: (p: string, a: string) => `/v1/projects/${enc(p)}/addons/${enc(a)}/backups`,
  addonRestores: (p: string, a: string) => `/v1/projects/${enc(p)}/addons/${enc(a)}/restores?per_page=100`,
  addonRestore: (p: string, a: string, b: string) => `/v1/projects/${enc(p)}/addons/${enc(a)}/backups/${enc(b)}/restore`,
  addonAction: (p: string, a: string, action: 'pause' | 'resume' | 'restart') => `/v1/projects/${enc(p)}/addons/${enc(a)}/${action}`,
  logStream: (p: string, s: string, search = '') => `/projects/${enc(p)}/services/${enc(s)}/logs/stream?tail=200${search ? `&search=${enc(search)}` : ''}`,
  logSinks: () => '/v1/integrations/log-sinks?per_page=100',
  logSink: (id: string, action?: 'pause' | 'resume') => `/v1/integrations/log-sinks/${enc(id)}${action ? `/${action}` : ''}`,
  createLogSink: () => '/v1/integrations/log-sinks',
  notifications: () => '/v1/integrations/notifications?per_page=100',
  notification: (id: string) => `/v1/integrations/notifications/${enc(id)}`,
  createNotification: () => '/v1/integrations/notifications',
  deliveries: (id: string) => `/notifications/${enc(id)}/deliveries?limit=20`,
};

export interface AddonItem {
  id: string;
  name: string;
  status: string;
  spec: { type: string };
}
export interface Addon {
  id: string;
  name: string;
  type: string;
  version: string;
  status: string;
  statusMessage?: string;
  billing: { deploymentPlan: string; storage: number; replicas: number };
  createdAt: string;
}
export interface AddonBackup {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  completedAt?: string;
  config: { size: string };
  message?: string;
  /** the backup destination it is stored on; absent: the data directory */
  customDestinationId?: string;
}
export interface AddonRestore {
  id: string;
  backupId: string;
  status: string;
  restoreTimestamp: string;
  completedAt?: string;
  message?: string;
}

// Shapes of the responses the dashboard reads (the parts it shows).
export interface Project {
  id: string;
  name: string;
  description?: string;
}
export interface DeployStatus {
  status: string;
  reason?: string;
  lastTransitionTime?: string;
  message?: string;
}
export interface ServiceItem {
  id: string;
  name: string;
  serviceType: string;
  description?: string;
  status: { deployment: DeployStatus };
}
export interface Service extends ServiceItem {
  paused: boolean;
  deployment?: { instances?: number };
  release?: { id: string; number: number };
  ports?: { name: string; internalPort: number; public?: boolean; protocol: string; dns?: string }[];
  status: { deployment: DeployStatus; build?: { status: string; lastTransitionTime?: string } };
}
export interface Instance {
  id: string;
  release: number | null;
  processType: string;
  state: string;
  ready: boolean;
  restarts: number;
  lastExitCode: number | null;
  startedAt?: string;
  /** while ready: since when (ISO 8601) */
  readyAt?: string;
  /** per probe kind (startup, readiness, liveness): whether it passes now */
  probes?: Record<string, { passing?: boolean; consecutiveFailures?: number; lastError?: string }>;
}
export interface RolloutEvent {
  id: number;
  message: string;
  createdAt: string;
}
export interface Rollout {
  id: string;
  number: number;
  kind: string;
  strategy: string;
  status: string;
  message?: string | null;
  fromRelease: number | null;
  toRelease: number | null;
  createdAt: string;
  finishedAt?: string | null;
  canary?: { steps: { instanceWeight?: number; trafficPercent?: number }[]; currentStep: number; paused: boolean };
  events: RolloutEvent[];
}
export interface Release {
  id: string;
  number: number;
  buildId?: string | null;
  image?: string | null;
  specHash: string;
  /** what the release changed from the one before, in words; null for releases made before they kept their spec */
  changes?: string[] | null;
  createdAt: string;
}
export interface LogLine {
  instance: string;
  ts: string;
  stream: string;
  line: string;
}
export interface Build {
  id: string;
  branch?: string;
  sha?: string;
  status: string;
  concluded: boolean;
  success: boolean;
  createdAt: string;
  message?: string | null;
}

export const secretPaths = {
  groups: (p: string) => `/v1/projects/${enc(p)}/secrets?per_page=100`,
  environment: (p: string, s: string) => `/v1/projects/${enc(p)}/services/${enc(s)}/runtime-environment/details`,
};

export interface SecretGroupItem {
  id: string;
  name: string;
  type: 'secret' | 'config';
  secretType: string;
  priority: number;
  restrictions: { restricted?: boolean; nfObjects?: { id: string; type: string }[]; tags?: string[]; tagMatchCondition?: 'and' | 'or' };
}
/** One value of a service's environment and where it comes from (null values: the token may not read them). */
export interface EnvironmentSource {
  value: string | null;
  inheritedFrom?: string;
  priority?: number;
  overriding: { value: string | null; inheritedFrom: string; priority: number }[];
}

/** A volume as `/v1` answers (the fields the service page shows). */
export interface Volume {
  id: string;
  status: string;
  spec: { storageSize: number; accessMode: string };
  mounts: { containerMountPath: string; volumeMountPath?: string }[];
  attachedObjects: { id: string; type: string }[];
  operation: { type: string; backupId?: string } | null;
  usage: { storageUsedBytes: number | null };
  notices: string[];
}

export interface VolumeBackup {
  id: string;
  name: string;
  status: string;
  sizeBytes: number | null;
  createdAt: string;
}

/** A native canary as `GET …/rollouts/{n}` shows it (docs/canary.md). */
export interface CanaryDetail {
  currentStep: number;
  paused: boolean;
  analysis?: {
    interval: number;
    failureLimit: number;
    failures: number;
    measurements: { at: string; step: number; verdict: string; canaryRequests: number; stableRequests: number; results: { metric: string; value: number | null; stable: number | null; limit: number | null; passed: boolean }[] }[];
  };
  traffic?: {
    split: { percent: number; effectivePercent: number; stableEndpoints: number; canaryEndpoints: number; pins: number } | null;
    windowSeconds: number;
    releases: { release: number; requests: number; errors: number; errorRate: number; latencyP50Ms: number | null; latencyP99Ms: number | null }[];
  };
}
