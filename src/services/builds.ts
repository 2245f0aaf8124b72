/**
 * Build use cases: start a build of a branch or commit, upload a source bundle, list builds, read a log.
 * Builds are keyed by commit SHA (or bundle hash): asking again for a source that already built
 * successfully returns that build instead of building twice.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { BuildRecord } from '../store/builds-repo.ts';
import type { AuthService, Principal } from './auth.ts';
import type { Signals } from './ports.ts';
import { randomId } from '../domain/ids.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors/errors.ts';
import { parseHostedUrl } from '../builds/hosted-repos.ts';
import picomatch from 'picomatch';

/** Resolves a branch or SHA of a repository to a commit. */
export interface SourceRefs {
  resolve(url: string, ref?: string): Promise<{ sha: string; branch?: string }>;
  /** the commit's message and the paths changed since `since` (for build rules) */
  commitInfo?(url: string, sha: string, since?: string): Promise<{ message: string; changed?: string[] }>;
}

/**
 * Northflank's build rules on automatic builds: `ciIgnoreFlags` in the commit message skip it; with
 * `pathIgnoreRules`, a commit that changes only ignored paths is skipped, or, with `isAllowList`, one that
 * changes none of the listed paths. Patterns are globs (`docs/**`, `*.md`; a pattern without `/` matches a
 * file name anywhere). Returns why the commit is skipped, or undefined to build it.
 */
export function buildRuleSkip(rules: { pathIgnoreRules?: string[]; isAllowList?: boolean; ciIgnoreFlagsEnabled?: boolean; ciIgnoreFlags?: string[] } | undefined, info: { message: string; changed?: string[] }): string | undefined {
  if (!rules) return undefined;
  if (rules.ciIgnoreFlagsEnabled !== false && rules.ciIgnoreFlags?.length) {
    const flag = rules.ciIgnoreFlags.find((f) => f && info.message.includes(f));
    if (flag) return `the commit message carries '${flag}'`;
  }
  const patterns = (rules.pathIgnoreRules ?? []).filter(Boolean);
  if (!patterns.length || !info.changed?.length) return undefined;
  const match = picomatch(patterns, { dot: true, basename: false });
  const base = picomatch(patterns.filter((p) => !p.includes('/')), { dot: true, basename: true });
  const hits = info.changed.filter((f) => match(f) || base(f));
  if (rules.isAllowList) return hits.length ? undefined : `no changed path is in the allow list (${patterns.join(', ')})`;
  return hits.length === info.changed.length ? `only ignored paths changed (${patterns.join(', ')})` : undefined;
}

export class BuildsService {
  /** the last commit skipped by build rules, per service (so a poll records it once) */
  private readonly skipped = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly signals: Signals,
    private readonly refs: SourceRefs,
    private readonly dataDir: string,
  ) {}

  private logPath(id: string): string {
    return path.join(this.dataDir, 'builds', `${id}.log`);
  }

  private async buildable(projectId: string, serviceId: string) {
    const svc = await this.store.services.get(projectId, serviceId);
    if (svc.kind === 'deployment') throw ValidationError.one('serviceId', 'buildable', `'${serviceId}' is a deployment service: only build and combined services build`);
    return svc;
  }

  /** Build the given branch/SHA (default: the service's branch) unless that commit already built. */
  async startFromGit(caller: Principal, projectId: string, serviceId: string, input: { branch?: string; sha?: string } = {}): Promise<BuildRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const svc = await this.buildable(projectId, serviceId);
    const vcs = svc.spec.vcsData;
    if (!vcs?.projectUrl) throw ValidationError.one('vcsData.projectUrl', 'required', 'the service has no repository: upload a source bundle instead');
    const branch = input.branch ?? vcs.projectBranch;
    const { sha } = await this.refs.resolve(vcs.projectUrl, input.sha ?? branch);
    const cached = await this.store.builds.findSuccessful(projectId, serviceId, sha);
    if (cached) return cached;
    return this.queue(projectId, serviceId, sha, branch ?? null, `git:${vcs.projectUrl}`);
  }

  /** The platform's own trigger (service created, source changed): build the branch head, no caller. */
  async buildBranchHead(projectId: string, serviceId: string): Promise<void> {
    const svc = await this.buildable(projectId, serviceId);
    const vcs = svc.spec.vcsData;
    if (!vcs?.projectUrl) return;
    let sha: string;
    try {
      ({ sha } = await this.refs.resolve(vcs.projectUrl, vcs.projectBranch));
    } catch (err) {
      // A repository slipway hosts is empty until the first push: nothing to build yet.
      if (err instanceof NotFoundError && parseHostedUrl(vcs.projectUrl)) return;
      throw err;
    }
    // A commit the platform already built (or is building, or failed to build) is not built again by itself.
    if (await this.store.builds.findSuccessful(projectId, serviceId, sha)) return;
    const known = (await this.store.builds.list(projectId, serviceId, 100)).filter((b) => !b.sha.startsWith('bundle:'));
    if (known.some((b) => b.sha === sha)) return;
    // Build rules apply to what the platform builds by itself (a push, a poll, a new source), never to a build asked for.
    const rules = svc.spec.buildConfiguration as Parameters<typeof buildRuleSkip>[0];
    if (rules && this.refs.commitInfo) {
      const prev = known.find((b) => b.status === 'SUCCESS');
      const why = buildRuleSkip(rules, await this.refs.commitInfo(vcs.projectUrl, sha, prev?.sha));
      if (why) {
        if (this.skipped.get(`${projectId}/${serviceId}`) !== sha) {
          this.skipped.set(`${projectId}/${serviceId}`, sha);
          await this.store.events.append({ projectId, serviceId, kind: 'build', reason: 'Skipped', message: `commit ${sha.slice(0, 12)} not built: ${why}` });
        }
        return;
      }
    }
    await this.queue(projectId, serviceId, sha, vcs.projectBranch ?? null, `git:${vcs.projectUrl}`);
  }

  /** Store an uploaded .tar.gz bundle and queue its build. */
  async startFromBundle(caller: Principal, projectId: string, serviceId: string, bundle: Buffer): Promise<BuildRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.buildable(projectId, serviceId);
    const { digest } = this.storeBundle(bundle);
    return this.buildStoredBundle(caller, projectId, serviceId, digest);
  }

  /** Keep a .tar.gz bundle in the data directory under its sha256, which later keys its build. */
  storeBundle(bundle: Buffer): { digest: string } {
    if (bundle.length < 2 || bundle[0] !== 0x1f || bundle[1] !== 0x8b) throw ValidationError.one('body', 'gzip', 'the source bundle must be a .tar.gz archive');
    const digest = crypto.createHash('sha256').update(bundle).digest('hex');
    const dir = path.join(this.dataDir, 'uploads');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(this.bundlePath(digest), bundle);
    return { digest };
  }

  private bundlePath(digest: string): string {
    return path.join(this.dataDir, 'uploads', `${digest}.tar.gz`);
  }

  /** Queue the build of a stored bundle, unless that bundle already built successfully for the service. */
  async buildStoredBundle(caller: Principal, projectId: string, serviceId: string, digest: string): Promise<BuildRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.buildable(projectId, serviceId);
    if (!/^[0-9a-f]{64}$/.test(digest) || !fs.existsSync(this.bundlePath(digest))) throw ValidationError.one('package', 'uploaded', 'no uploaded source with that digest');
    const key = `bundle:${digest}`;
    const cached = await this.store.builds.findSuccessful(projectId, serviceId, key);
    if (cached) return cached;
    return this.queue(projectId, serviceId, key, null, `bundle:${this.bundlePath(digest)}`);
  }

  private async queue(projectId: string, serviceId: string, sha: string, branch: string | null, source: string): Promise<BuildRecord> {
    const id = randomId('build');
    const rec = await this.store.builds.create({ id, projectId, serviceId, sha, branch, source, logPath: this.logPath(id) });
    await this.store.events.append({ projectId, serviceId, kind: 'build', reason: 'Queued', message: `build ${id} of ${sha.slice(0, 12)} queued` });
    this.signals.buildQueued(id);
    return rec;
  }

  async list(caller: Principal, projectId: string, serviceId: string): Promise<BuildRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.buildable(projectId, serviceId);
    return this.store.builds.list(projectId, serviceId);
  }

  async get(caller: Principal, projectId: string, serviceId: string, buildId: string): Promise<BuildRecord> {
    this.auth.authorize(caller, projectId, 'read');
    const b = await this.store.builds.get(buildId);
    if (b.projectId !== projectId || b.serviceId !== serviceId) throw new ValidationError([{ field: 'buildId', rule: 'exists', message: `build '${buildId}' is not a build of '${serviceId}'` }]);
    return b;
  }

  /**
   * Abort a queued or running build: it is marked ABORTED in the store at once, and the build controller
   * running it (on whichever control plane) sees that, stops its steps and keeps its log. What runs is not
   * touched. A build that has already concluded is a conflict.
   */
  async abort(caller: Principal, projectId: string, serviceId: string, buildId: string): Promise<BuildRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const b = await this.get(caller, projectId, serviceId, buildId);
    for (const from of ['QUEUED', 'BUILDING'] as const) {
      if (await this.store.builds.transition(b.id, from, 'ABORTED', { error: 'aborted through the API' })) {
        await this.store.events.append({ projectId, serviceId, kind: 'build', reason: 'Aborted', message: `build ${b.id} aborted${from === 'QUEUED' ? ' before it started' : ''}` });
        return this.store.builds.get(b.id);
      }
    }
    const now = await this.store.builds.get(b.id);
    throw new ConflictError(`build '${buildId}' has already concluded (${now.status}): there is nothing to abort`);
  }

  async log(caller: Principal, projectId: string, serviceId: string, buildId: string): Promise<string> {
    const b = await this.get(caller, projectId, serviceId, buildId);
    try {
      return fs.readFileSync(b.logPath, 'utf8');
    } catch {
      // Built on another control-plane replica: its log is in the store once the build has finished.
      return (await this.store.blobs.get(`build-log/${b.id}`))?.toString('utf8') ?? '';
    }
  }
}
