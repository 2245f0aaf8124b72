/**
 * A service's or job's runtime environment as it will run, and where each value comes from: its own
 * variables and files, what it inherits from secret groups, and which values hide which. Values are
 * replaced by null for a caller who may not read them (viewer), names never are.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import type { SecretFile, InheritedSet } from '../domain/secret-group.ts';
import { InheritedEnvironment, jobTarget, serviceTarget } from './inherited.ts';

/** `inheritedFrom` names the group; `addonId` the addon when the group carries the value through a link. */
type Source<V> = { value: V | null; inheritedFrom?: string; priority?: number; addonId?: string; overriding: { value: V | null; inheritedFrom: string; priority: number; addonId?: string }[] };

export interface EnvironmentDetails {
  own: { variables: Record<string, string | null>; files: Record<string, SecretFile | { data: null; encoding?: string }> };
  inherited: { variables: Record<string, string | null>; files: Record<string, SecretFile | { data: null; encoding?: string }> };
  /** the merged result with each value's source: the resource's own over the winning group's */
  sources: { variables: Record<string, Source<string>>; files: Record<string, Source<SecretFile>> };
  valuesHidden: boolean;
}

export class EnvironmentDetailsService {
  private readonly inherited: InheritedEnvironment;
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    inherited?: InheritedEnvironment,
  ) {
    this.inherited = inherited ?? new InheritedEnvironment(store);
  }

  async ofService(caller: Principal, projectId: string, serviceId: string): Promise<EnvironmentDetails> {
    this.auth.authorize(caller, projectId, 'read');
    const svc = await this.store.services.get(projectId, serviceId);
    const set = await this.inherited.of(projectId, serviceTarget(svc), 'environment');
    return this.details(caller, projectId, svc.spec.runtimeEnvironment ?? {}, svc.spec.runtimeFiles ?? {}, set);
  }

  async ofJob(caller: Principal, projectId: string, jobId: string): Promise<EnvironmentDetails> {
    this.auth.authorize(caller, projectId, 'read');
    const job = await this.store.jobs.get(projectId, jobId);
    const set = await this.inherited.of(projectId, jobTarget(job), 'environment');
    return this.details(caller, projectId, job.spec.runtimeEnvironment ?? {}, job.spec.runtimeFiles ?? {}, set);
  }

  private details(caller: Principal, projectId: string, env: Record<string, string>, files: Record<string, SecretFile>, set: InheritedSet): EnvironmentDetails {
    let hidden = false;
    try {
      this.auth.authorize(caller, projectId, 'write');
    } catch {
      hidden = true;
    }
    const v = (x: string): string | null => (hidden ? null : x);
    const f = (x: SecretFile): SecretFile | { data: null; encoding?: string } => (hidden ? { data: null, ...(x.encoding ? { encoding: x.encoding } : {}) } : x);
    const fv = (x: SecretFile) => f(x) as SecretFile | null;
    const map = <A, B>(o: Record<string, A>, fn: (a: A) => B) => Object.fromEntries(Object.entries(o).map(([k, a]) => [k, fn(a)])) as Record<string, B>;

    const sources = { variables: {} as Record<string, Source<string>>, files: {} as Record<string, Source<SecretFile>> };
    for (const [k, s] of Object.entries(set.variables)) sources.variables[k] = { value: v(s.value), inheritedFrom: s.inheritedFrom, priority: s.priority, ...(s.addonId ? { addonId: s.addonId } : {}), overriding: s.overriding.map((o) => ({ ...o, value: v(o.value) })) };
    for (const [p, s] of Object.entries(set.files)) sources.files[p] = { value: fv(s.value), inheritedFrom: s.inheritedFrom, priority: s.priority, overriding: s.overriding.map((o) => ({ ...o, value: fv(o.value) })) };
    // The resource's own values win over every group: what a group would have given is listed as overridden.
    for (const [k, value] of Object.entries(env)) {
      const g = set.variables[k];
      sources.variables[k] = { value: v(value), overriding: g ? [{ value: v(g.value), inheritedFrom: g.inheritedFrom, priority: g.priority, ...(g.addonId ? { addonId: g.addonId } : {}) }, ...g.overriding.map((o) => ({ ...o, value: v(o.value) }))] : [] };
    }
    for (const [p, file] of Object.entries(files)) {
      const g = set.files[p];
      sources.files[p] = { value: fv(file), overriding: g ? [{ value: fv(g.value), inheritedFrom: g.inheritedFrom, priority: g.priority }, ...g.overriding.map((o) => ({ ...o, value: fv(o.value) }))] : [] };
    }
    return {
      own: { variables: map(env, v), files: map(files, f) },
      inherited: { variables: map(set.variables, (s) => v(s.value)), files: map(set.files, (s) => f(s.value)) },
      sources,
      valuesHidden: hidden,
    };
  }
}
