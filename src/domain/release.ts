/**
 * Releases: immutable snapshots of everything that shapes an instance. Any change to these fields makes a
 * new release (a different `specHash`); anything else (description, tags, instance count) does not.
 */
import crypto from 'node:crypto';
import type { HealthCheckSpec, PortSpec, ServiceSpec } from './service.ts';

export interface ReleaseSpec {
  buildId?: string;
  /** directory of the built artifact (process runtime) */
  artifactDir?: string;
  image?: string;
  imageCredentials?: string;
  /** process type → argv; `web` is routed. For an image, an empty `web` argv runs the image's own (see `entrypoint`, `cmd`). */
  processes: Record<string, string[]>;
  /**
   * An image's `docker.configType` override, with Docker semantics: `entrypoint` replaces the image's ENTRYPOINT,
   * `cmd` its CMD; what is absent stays the image's own. Absent for every release without an override, so their
   * hashes are unchanged.
   */
  entrypoint?: string[];
  cmd?: string[];
  env: Record<string, string>;
  files: Record<string, { data: string; encoding?: string }>;
  ports: Pick<PortSpec, 'name' | 'internalPort' | 'protocol' | 'public'>[];
  healthChecks: HealthCheckSpec[];
  gracePeriodSeconds: number;
  plan: string;
  /** plan of each non-web process type with a size of its own */
  typePlans?: Record<string, string>;
  storage?: { ephemeralStorageMb?: number; shmSizeMb?: number };
  /** set by a restart: same spec, new instances */
  restartedAt?: string;
}

export type ReleaseSecrets = Pick<ReleaseSpec, 'env' | 'files'>;

export interface ReleaseRecord {
  id: string;
  serviceKey: string;
  number: number;
  buildId: string | null;
  image: string | null;
  specHash: string;
  spec: ReleaseSpec;
  /** the service spec the release was made from (see release-snapshot.ts); absent on releases made before it was kept */
  serviceSpec?: ServiceSpec;
  createdAt: string;
}

/** JSON with sorted keys, so equal specs hash equally whatever order their fields came in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashReleaseSpec(spec: ReleaseSpec): string {
  return crypto.createHash('sha256').update(canonical(spec)).digest('hex').slice(0, 16);
}

export const DEFAULT_GRACE_PERIOD_SECONDS = 30;

/**
 * The command a process type runs, after the seed's runtime overrides:
 * - buildpack `customProcess` picks another Procfile entry; `customCommand` replaces the command;
 *   `customEntrypointCustomCommand` / `originalEntrypointCustomCommand` run entrypoint + command.
 * - docker `customCommand` / `customEntrypoint` / both: for a built artifact, applied to the start command the
 *   same way; for an image, see `resolveImageCommand` (the web argv stays empty: the image's own).
 * Commands are run by `sh -c`, as Procfile entries are on Heroku.
 */
export function resolveProcesses(spec: ServiceSpec, built: Record<string, string>, isImage = !!spec.deployment?.external): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [type, cmd] of Object.entries(built)) out[type] = ['/bin/sh', '-c', cmd];
  const d = spec.deployment;
  const bp = d?.buildpack;
  let web = built.web;
  if (bp && bp.configType !== 'default') {
    if (bp.configType === 'customProcess' && bp.customProcess) web = built[bp.customProcess] ?? web;
    if (bp.configType === 'customCommand' && bp.customCommand) web = bp.customCommand;
    if ((bp.configType === 'customEntrypointCustomCommand' || bp.configType === 'originalEntrypointCustomCommand') && bp.customCommand) {
      web = bp.configType === 'customEntrypointCustomCommand' && bp.customEntrypoint ? `${bp.customEntrypoint} ${bp.customCommand}` : bp.customCommand;
    }
  }
  const dk = d?.docker;
  if (dk && dk.configType !== 'default' && !isImage) {
    if (dk.configType === 'customCommand' && dk.customCommand) web = dk.customCommand;
    if (dk.configType === 'customEntrypoint' && dk.customEntrypoint) web = `${dk.customEntrypoint}${web ? ` ${web}` : ''}`;
    if (dk.configType === 'customEntrypointCustomCommand' && dk.customEntrypoint && dk.customCommand) web = `${dk.customEntrypoint} ${dk.customCommand}`;
  }
  if (web) out.web = ['/bin/sh', '-c', web];
  // An image (external, or built from a Dockerfile) with no override runs its own entrypoint and command:
  // an empty argv says so to the runtime.
  else if (isImage) out.web = [];
  // Other process types (formations) may override their own command.
  for (const [type, f] of Object.entries(spec.processTypes ?? {})) {
    if (type !== 'web' && f.command) out[type] = ['/bin/sh', '-c', f.command];
  }
  return out;
}

/**
 * Splits a command line into argv as a POSIX shell splits words, without expanding anything: blanks separate
 * words, '…' keeps everything literally, "…" keeps everything but \\ \" \$ \` escapes, a backslash outside
 * quotes keeps the next character. An unclosed quote runs to the end of the line.
 */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) word += line[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      inWord = true;
      if (c === "'" || c === '"') quote = c;
      else if (c === '\\' && i + 1 < line.length) word += line[++i];
      else word += c;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/**
 * An image's `docker.configType`, with Docker's semantics as Northflank documents them: the container runs
 * `[...entrypoint, ...cmd]` in exec form (no shell unless the override names one, e.g. `/bin/sh -c …`), each
 * override string split into argv as a shell splits words. `customEntrypoint` replaces the image's ENTRYPOINT
 * and keeps its CMD; `customCommand` replaces the CMD and keeps its ENTRYPOINT; both replace both.
 */
export function resolveImageCommand(spec: ServiceSpec): { entrypoint?: string[]; cmd?: string[] } {
  const dk = spec.deployment?.docker;
  if (!dk || dk.configType === 'default') return {};
  const entrypoint = (dk.configType === 'customEntrypoint' || dk.configType === 'customEntrypointCustomCommand') && dk.customEntrypoint ? splitCommandLine(dk.customEntrypoint) : undefined;
  const cmd = (dk.configType === 'customCommand' || dk.configType === 'customEntrypointCustomCommand') && dk.customCommand ? splitCommandLine(dk.customCommand) : undefined;
  return { ...(entrypoint?.length ? { entrypoint } : {}), ...(cmd?.length ? { cmd } : {}) };
}

/** The plan (size) of each non-web process type that has its own; absent when none does, so older hashes hold. */
function typePlans(spec: ServiceSpec): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [type, f] of Object.entries(spec.processTypes ?? {})) if (type !== 'web' && f.size) out[type] = f.size;
  return Object.keys(out).length ? out : undefined;
}

/**
 * `inherited` are the variables and files the service's secret groups give it (already merged by priority):
 * the service's own go over them, and the release carries the result, so it stays a complete snapshot.
 */
export function deriveReleaseSpec(spec: ServiceSpec, source: { buildId?: string; artifactDir?: string; processes?: Record<string, string>; image?: string }, inherited?: ReleaseSecrets): ReleaseSpec {
  const d = spec.deployment;
  const image = source.image ?? d?.external?.imagePath;
  return {
    buildId: source.buildId,
    artifactDir: source.artifactDir,
    image,
    imageCredentials: d?.external?.credentials,
    processes: resolveProcesses(spec, source.processes ?? {}, !!image),
    ...(image ? resolveImageCommand(spec) : {}),
    env: { ...inherited?.env, ...spec.runtimeEnvironment },
    files: { ...inherited?.files, ...spec.runtimeFiles },
    ports: (spec.ports ?? []).map((p) => ({ name: p.name, internalPort: p.internalPort, protocol: p.protocol, public: p.public ?? false })),
    healthChecks: spec.healthChecks ?? [],
    gracePeriodSeconds: d?.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    plan: spec.billing.deploymentPlan,
    ...(typePlans(spec) ? { typePlans: typePlans(spec) } : {}),
    storage:
      d?.storage && (d.storage.ephemeralStorage?.storageSize || d.storage.shmSize)
        ? { ephemeralStorageMb: d.storage.ephemeralStorage?.storageSize, shmSizeMb: d.storage.shmSize }
        : undefined,
  };
}

/**
 * Deterministic instance identity: project, service, release number, ordinal and a short spec hash. A
 * restarted control plane recomputes the same name for the same slot, so it adopts instead of duplicating.
 */
export function instanceId(projectId: string, serviceId: string, release: Pick<ReleaseRecord, 'number' | 'specHash'>, processType: string, ordinal: number): string {
  return `${projectId}--${serviceId}--${processType}-r${release.number}-${ordinal}-${release.specHash.slice(0, 6)}`;
}

const INSTANCE_TAIL = /-r(\d+)-(\d+)-[0-9a-f]+$/;

/** The release number and ordinal an instance id carries (see instanceId); undefined for an id of another form. */
export function instanceIdParts(id: string): { release: number; ordinal: number } | undefined {
  const m = INSTANCE_TAIL.exec(id);
  return m ? { release: Number(m[1]), ordinal: Number(m[2]) } : undefined;
}
