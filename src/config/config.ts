/**
 * Environment → one typed, validated, frozen Config. Nothing else in slipway reads `process.env`.
 * Every SLIPWAY_* variable, its default and its rule live here, and docs/configuration.md's table
 * mirrors this file.
 */
import { haproxyAvailable } from '../router/haproxy/detect.ts';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export interface Config {
  dataDir: string;
  apiHost: string;
  apiPort: number;
  routerHost: string;
  routerPort: number;
  /** HTTPS port of the router (`SLIPWAY_ROUTER_TLS_PORT`); 0 picks a free one, reported as `address().httpsPort`. */
  routerTlsPort: number;
  /** Router metrics in the Prometheus text format on 127.0.0.1 (`SLIPWAY_ROUTER_METRICS_PORT`); 0 picks a free one, reported as `address().metricsPort`. */
  routerMetricsPort: number;
  /** Router ports handed to public TCP ports of services (`SLIPWAY_ROUTER_TCP_PORTS`, `from-to`), one per route, stable. */
  routerTcpPorts: { from: number; to: number };
  domain: string;
  adminToken?: string;
  runtime: 'process' | 'docker' | 'kubernetes';
  /**
   * Docker runtime: the image that runs a release built from source (an artifact, no image of its own), with
   * the artifact bind-mounted read-only at `/app` (`SLIPWAY_DOCKER_ARTIFACT_IMAGE`; unset: the driver's default).
   */
  dockerArtifactImage?: string;
  /**
   * Docker runtime: the image each addon type's server runs from (`SLIPWAY_ADDON_IMAGE_POSTGRESQL`,
   * `SLIPWAY_ADDON_IMAGE_MYSQL`, `SLIPWAY_ADDON_IMAGE_REDIS`); a type without one is not offered there.
   */
  addonImages: { postgresql?: string; mysql?: string; redis?: string };
  /** Kubernetes runtime (docs/runtimes.md#kubernetes); unused on the other runtimes. */
  kubernetes: {
    /** kubeconfig file (`SLIPWAY_KUBECONFIG`); unset: in-cluster credentials when running in a Pod, else `$KUBECONFIG` / `~/.kube/config` */
    kubeconfig?: string;
    /** whether slipway runs in a Pod (the cluster sets `KUBERNETES_SERVICE_HOST`) */
    inCluster: boolean;
    /** namespaces are `<prefix><project>` (`SLIPWAY_KUBERNETES_NAMESPACE_PREFIX`, default `slipway-`) */
    namespacePrefix: string;
    /** bind Pods to this node instead of leaving them to the scheduler (`SLIPWAY_KUBERNETES_NODE`) */
    nodeName?: string;
    /** storage class of volume claims (`SLIPWAY_KUBERNETES_STORAGE_CLASS`; unset: the cluster's default) */
    storageClass?: string;
    /** the image a release built from source is layered on (`SLIPWAY_KUBERNETES_BASE_IMAGE`) */
    baseImage: string;
  };
  /**
   * Where images built by slipway are pushed (`SLIPWAY_REGISTRY`, `host[:port][/path]`), with
   * `SLIPWAY_REGISTRY_USERNAME` / `SLIPWAY_REGISTRY_PASSWORD`; plain HTTP when `SLIPWAY_REGISTRY_INSECURE=true`
   * (default: only for a registry on this machine).
   */
  registry?: { repository: string; username?: string; password?: string; insecure?: boolean };
  router: 'haproxy' | 'builtin';
  databaseUrl?: string;
  /**
   * The key that seals secrets at rest (`SLIPWAY_SECRET_KEY`): 32 random bytes, base64 (44 characters, e.g.
   * `openssl rand -base64 32`) or hex (64 characters). Unset: `<data dir>/secret.key`, created on first start.
   * Control-plane replicas on one PostgreSQL database must all set the same one (docs/high-availability.md).
   */
  secretKey?: Buffer;
  /**
   * The controllers this control plane runs (`SLIPWAY_CONTROLLERS`): `all` (default), `none` (a replica that
   * serves the API and routes only), or a comma-separated list of kinds. See docs/high-availability.md.
   */
  controllers: ReadonlySet<ControllerKind>;
  logLevel: string;
  /** process runtime isolation: bubblewrap sandbox per instance, or plain child processes */
  isolation: 'bwrap' | 'none';
  /**
   * Multiplies every probe duration (initial delay, period, timeout) and the crash back-off. The API keeps
   * the seed's limits (periodSeconds >= 10); tests set e.g. 0.05 so a 10 s period runs every 0.5 s.
   */
  probeTimeScale: number;
  /** A rollout whose new instances are not all ready within this many seconds fails and the service returns to its last good release. */
  progressDeadlineSeconds: number;
  /**
   * Kubernetes' `minReadySeconds`: how long a new instance must stay ready before a rollout counts it
   * available and stops an old instance for it. 0 (the default, as in Kubernetes) moves on at readiness.
   */
  minReadySeconds: number;
  /**
   * How long one new instance must stay ready before the last ready old instance of a service stops, so a
   * release that crashes soon after opening its port never takes the service down; 0 turns the hold off.
   */
  lastOldHoldSeconds: number;
  /** Periodic resync of every controller key, in ms. */
  resyncMs: number;
  /** how often build and combined services poll their repository's watched branch (0: only pushes and changes) */
  repoPollMs: number;
  /** one structured access-log line per routed request, from either data plane */
  routerAccessLog: boolean;
  /** the router reports every request to the control plane for canary analysis (docs/canary.md) */
  routerReleaseMetrics: boolean;
  /** Maximum accepted request body on the API, in bytes. */
  bodyLimitBytes: number;
  /** Maximum accepted source bundle upload, in bytes. */
  uploadLimitBytes: number;
  /** Grace-period floor applied to instance stops (seconds); tests lower it, the API keeps the seed's 15-600. */
  gracePeriodCapSeconds?: number;
  /**
   * What a stop of the control plane (SIGTERM, SIGINT: `npm start`'s Ctrl-C) stops besides itself
   * (`SLIPWAY_STOP_ON_EXIT`): `none` (default) leaves the instances and the router running, and the next start
   * adopts them; `all` stops the router and every instance too. See docs/restarts.md.
   */
  stopOnExit: 'none' | 'all';
  /** Logs kept per service (docs/logs.md): lines older than `logMaxAgeSeconds` go, then the oldest over `logMaxBytes`. */
  logMaxAgeSeconds: number;
  logMaxBytes: number;
  /** Lines each log sink holds while its receiver is down; beyond that the oldest are dropped and counted. */
  logSinkBufferLines: number;
  /** How often uptime checks may run at most (their own intervalSeconds is scaled by it in tests). */
  uptimeTimeScale: number;
  /** how often the autoscaler evaluates every autoscaled service, in seconds (`SLIPWAY_AUTOSCALE_INTERVAL_SECONDS`, 15 as the HPA) */
  autoscaleIntervalSeconds: number;
  /** how long a scale-down waits for the load to stay low, in seconds (`SLIPWAY_AUTOSCALE_DOWN_STABILIZATION_SECONDS`, 300 as the HPA) */
  autoscaleDownStabilizationSeconds: number;
  /** Metrics sampling period in seconds (`SLIPWAY_METRICS_INTERVAL_SECONDS`); 0 turns collection off. See docs/metrics.md. */
  metricsIntervalSeconds: number;
  /** How long samples at the sampling period are kept (`SLIPWAY_METRICS_RAW_RETENTION_HOURS`). */
  metricsRawRetentionHours: number;
  /** How long the 1-minute roll-ups are kept (`SLIPWAY_METRICS_RETENTION_DAYS`). */
  metricsRetentionDays: number;
  /**
   * This control-plane replica's id (`SLIPWAY_NODE_ID`), the holder named in its leases and reported at
   * `GET /healthz`; default `<hostname>:<API port>` (with API port 0, `<hostname>:pid-<pid>`). See docs/high-availability.md.
   */
  nodeId: string;
  /** A lease not renewed for this long may be taken over by another replica (`SLIPWAY_LEASE_TTL_SECONDS`, 10). */
  leaseTtlMs: number;
  /** How often held leases are renewed and free ones sought (`SLIPWAY_LEASE_RENEW_SECONDS`, 3; under a third of the TTL). */
  leaseRenewMs: number;
  /** The service controller's keys are spread over this many leases (`SLIPWAY_LEASE_SHARDS`, 1). */
  leaseShards: number;
  /**
   * Process runtime: the directory of the instances' state (`SLIPWAY_RUNTIME_DIR`, default `<data dir>/runtime`).
   * Replicas on one machine share it, so any of them adopts the instances another started.
   */
  runtimeDir: string;
}

export class ConfigError extends Error {}

export const CONTROLLER_KINDS = ['services', 'builds', 'jobs', 'addons', 'flows'] as const;
export type ControllerKind = (typeof CONTROLLER_KINDS)[number];

function controllerKinds(env: Env, name: string): ReadonlySet<ControllerKind> {
  const raw = (env[name] ?? '').trim();
  if (raw === '' || raw === 'all') return new Set(CONTROLLER_KINDS);
  if (raw === 'none') return new Set();
  const kinds = raw.split(',').map((k) => k.trim());
  const bad = kinds.find((k) => !(CONTROLLER_KINDS as readonly string[]).includes(k));
  if (bad !== undefined) throw new ConfigError(`${name} must be 'all', 'none' or a comma-separated list of ${CONTROLLER_KINDS.join(', ')}, got '${bad}'`);
  return new Set(kinds as ControllerKind[]);
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

function num(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number from ${min} to ${max}, got '${raw}'`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}

/** An image reference as the engine takes it: `[registry/]name[:tag][@digest]`, no spaces. */
function imageRef(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/i.test(raw) || raw.length > 512) {
    throw new ConfigError(`${name} must be an image reference like registry/name:tag, got '${raw}'`);
  }
  return raw;
}

/** A namespace prefix: lowercase letters, digits and dashes, starting with a letter, at most 40 characters. */
function dnsLabelPrefix(env: Env, name: string, def: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(raw)) throw new ConfigError(`${name} must be lowercase letters, digits and dashes starting with a letter (at most 40), got '${raw}'`);
  return raw;
}

function registryOf(env: Env): Config['registry'] {
  const raw = env.SLIPWAY_REGISTRY;
  if (raw === undefined || raw === '') return undefined;
  if (!/^[a-z0-9][a-z0-9.-]*(:\d{1,5})?(\/[a-z0-9][a-z0-9._\-/]*)?$/i.test(raw) || raw.length > 255) {
    throw new ConfigError(`SLIPWAY_REGISTRY must be a registry host with an optional path, like registry.example:5000/slipway, got '${raw}'`);
  }
  const insecure = oneOf(env, 'SLIPWAY_REGISTRY_INSECURE', '', ['', 'true', 'false'] as const);
  return {
    repository: raw.replace(/\/+$/, ''),
    ...(env.SLIPWAY_REGISTRY_USERNAME ? { username: env.SLIPWAY_REGISTRY_USERNAME } : {}),
    ...(env.SLIPWAY_REGISTRY_PASSWORD ? { password: env.SLIPWAY_REGISTRY_PASSWORD } : {}),
    ...(insecure ? { insecure: insecure === 'true' } : {}),
  };
}

/** 32 bytes as base64 (44 characters, padding included) or hex (64 characters). */
function secretKey(env: Env, name: string): Buffer | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : /^[A-Za-z0-9+/]{43}=$/.test(raw) ? Buffer.from(raw, 'base64') : undefined;
  if (!key || key.length !== 32) throw new ConfigError(`${name} must be 32 bytes as base64 (44 characters, e.g. the output of 'openssl rand -base64 32') or hex (64 characters)`);
  return key;
}

function portRange(env: Env, name: string, def: { from: number; to: number }): { from: number; to: number } {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(raw.trim());
  const [from, to] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || from < 1 || to > 65535 || from > to) throw new ConfigError(`${name} must be a port range 'from-to' with 1 <= from <= to <= 65535, got '${raw}'`);
  return { from, to };
}

/** `SLIPWAY_NODE_ID`, or `<hostname>:<API port>` (two replicas on one machine cannot share an API port). */
function nodeIdOf(env: Env): string {
  const raw = env.SLIPWAY_NODE_ID;
  if (raw !== undefined && raw !== '') {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(raw)) throw new ConfigError(`SLIPWAY_NODE_ID must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit, got '${raw}'`);
    return raw;
  }
  const port = env.SLIPWAY_API_PORT || '7070';
  return `${os.hostname()}:${port === '0' ? `pid-${process.pid}` : port}`;
}

export function onPath(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const dataDir = path.resolve(env.SLIPWAY_DATA_DIR || './.slipway');
  const domain = (env.SLIPWAY_DOMAIN || 'localhost').toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
    throw new ConfigError(`SLIPWAY_DOMAIN must be a DNS name, got '${domain}'`);
  }
  const databaseUrl = env.SLIPWAY_DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('SLIPWAY_DATABASE_URL must be a postgres:// URL');
  }
  const adminToken = env.SLIPWAY_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('SLIPWAY_ADMIN_TOKEN must be at least 16 characters');
  const cfg: Config = {
    dataDir,
    apiHost: env.SLIPWAY_API_HOST || '127.0.0.1',
    apiPort: int(env, 'SLIPWAY_API_PORT', 7070, 0, 65535),
    routerHost: env.SLIPWAY_ROUTER_HOST || '0.0.0.0',
    routerPort: int(env, 'SLIPWAY_ROUTER_PORT', 8080, 0, 65535),
    routerTlsPort: int(env, 'SLIPWAY_ROUTER_TLS_PORT', 8443, 0, 65535),
    routerMetricsPort: int(env, 'SLIPWAY_ROUTER_METRICS_PORT', 9101, 0, 65535),
    routerTcpPorts: portRange(env, 'SLIPWAY_ROUTER_TCP_PORTS', { from: 20000, to: 20999 }),
    domain,
    adminToken,
    runtime: oneOf(env, 'SLIPWAY_RUNTIME', 'process', ['process', 'docker', 'kubernetes'] as const),
    dockerArtifactImage: imageRef(env, 'SLIPWAY_DOCKER_ARTIFACT_IMAGE'),
    addonImages: {
      postgresql: imageRef(env, 'SLIPWAY_ADDON_IMAGE_POSTGRESQL'),
      mysql: imageRef(env, 'SLIPWAY_ADDON_IMAGE_MYSQL'),
      redis: imageRef(env, 'SLIPWAY_ADDON_IMAGE_REDIS'),
    },
    kubernetes: {
      kubeconfig: env.SLIPWAY_KUBECONFIG || undefined,
      inCluster: !env.SLIPWAY_KUBECONFIG && !!env.KUBERNETES_SERVICE_HOST,
      namespacePrefix: dnsLabelPrefix(env, 'SLIPWAY_KUBERNETES_NAMESPACE_PREFIX', 'slipway-'),
      nodeName: env.SLIPWAY_KUBERNETES_NODE || undefined,
      storageClass: env.SLIPWAY_KUBERNETES_STORAGE_CLASS || undefined,
      baseImage: imageRef(env, 'SLIPWAY_KUBERNETES_BASE_IMAGE') ?? 'docker.io/library/node:20-slim',
    },
    registry: registryOf(env),
    router: oneOf(env, 'SLIPWAY_ROUTER', haproxyAvailable() ? 'haproxy' : 'builtin', ['haproxy', 'builtin'] as const),
    databaseUrl,
    secretKey: secretKey(env, 'SLIPWAY_SECRET_KEY'),
    controllers: controllerKinds(env, 'SLIPWAY_CONTROLLERS'),
    logLevel: oneOf(env, 'SLIPWAY_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    isolation: oneOf(env, 'SLIPWAY_ISOLATION', onPath('bwrap') ? 'bwrap' : 'none', ['bwrap', 'none'] as const),
    probeTimeScale: num(env, 'SLIPWAY_PROBE_TIME_SCALE', 1, 0.001, 1),
    progressDeadlineSeconds: num(env, 'SLIPWAY_PROGRESS_DEADLINE_SECONDS', 600, 1, 86_400),
    minReadySeconds: num(env, 'SLIPWAY_MIN_READY_SECONDS', 0, 0, 3600),
    lastOldHoldSeconds: num(env, 'SLIPWAY_LAST_OLD_HOLD_SECONDS', 0.5, 0, 3600),
    resyncMs: int(env, 'SLIPWAY_RESYNC_MS', 5000, 100, 3_600_000),
    repoPollMs: int(env, 'SLIPWAY_REPO_POLL_MS', 60_000, 0, 86_400_000),
    routerAccessLog: oneOf(env, 'SLIPWAY_ROUTER_ACCESS_LOG', 'on', ['on', 'off'] as const) === 'on',
    routerReleaseMetrics: oneOf(env, 'SLIPWAY_ROUTER_RELEASE_METRICS', 'on', ['on', 'off'] as const) === 'on',
    bodyLimitBytes: int(env, 'SLIPWAY_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    uploadLimitBytes: int(env, 'SLIPWAY_UPLOAD_LIMIT_BYTES', 200 * 1024 * 1024, 1024, 8 * 1024 * 1024 * 1024),
    stopOnExit: oneOf(env, 'SLIPWAY_STOP_ON_EXIT', 'none', ['none', 'all'] as const),
    autoscaleIntervalSeconds: num(env, 'SLIPWAY_AUTOSCALE_INTERVAL_SECONDS', 15, 0.1, 3600),
    autoscaleDownStabilizationSeconds: num(env, 'SLIPWAY_AUTOSCALE_DOWN_STABILIZATION_SECONDS', 300, 0, 86_400),
    gracePeriodCapSeconds: env.SLIPWAY_GRACE_PERIOD_CAP_SECONDS ? num(env, 'SLIPWAY_GRACE_PERIOD_CAP_SECONDS', 600, 0.1, 600) : undefined,
    logMaxAgeSeconds: int(env, 'SLIPWAY_LOG_MAX_AGE_SECONDS', 7 * 86_400, 60, 366 * 86_400),
    logMaxBytes: int(env, 'SLIPWAY_LOG_MAX_BYTES', 100 * 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024 * 1024),
    logSinkBufferLines: int(env, 'SLIPWAY_LOG_SINK_BUFFER_LINES', 10_000, 10, 10_000_000),
    uptimeTimeScale: num(env, 'SLIPWAY_UPTIME_TIME_SCALE', 1, 0.001, 1),
    metricsIntervalSeconds: num(env, 'SLIPWAY_METRICS_INTERVAL_SECONDS', 10, 0, 3600),
    metricsRawRetentionHours: num(env, 'SLIPWAY_METRICS_RAW_RETENTION_HOURS', 24, 1, 24 * 30),
    metricsRetentionDays: num(env, 'SLIPWAY_METRICS_RETENTION_DAYS', 30, 1, 3650),
    nodeId: nodeIdOf(env),
    leaseTtlMs: num(env, 'SLIPWAY_LEASE_TTL_SECONDS', 10, 1, 3600) * 1000,
    leaseRenewMs: num(env, 'SLIPWAY_LEASE_RENEW_SECONDS', 3, 0.1, 1200) * 1000,
    leaseShards: int(env, 'SLIPWAY_LEASE_SHARDS', 1, 1, 256),
    runtimeDir: path.resolve(env.SLIPWAY_RUNTIME_DIR || path.join(dataDir, 'runtime')),
  };
  if (cfg.leaseRenewMs * 3 > cfg.leaseTtlMs) throw new ConfigError(`SLIPWAY_LEASE_RENEW_SECONDS must be at most a third of SLIPWAY_LEASE_TTL_SECONDS (${cfg.leaseTtlMs / 1000}), got '${cfg.leaseRenewMs / 1000}'`);
  return Object.freeze(cfg);
}
