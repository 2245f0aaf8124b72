/**
 * What a service or job inherits from its project's secret groups, read fresh from the store at the moment
 * it is needed: when a release is derived (runtime variables and files), when a build starts (build
 * arguments), when a job run is resolved. The merge rules are in domain/secret-group.ts; the resource's
 * own values go over every group where the caller merges them.
 */
import type { Store } from '../store/store.ts';
import type { ServiceRecord } from '../domain/service.ts';
import type { JobRecord } from '../domain/job.ts';
import type { ReleaseSecrets } from '../domain/release.ts';
import { NotFoundError } from '../errors/errors.ts';
import { appliesTo, flatten, inheritFrom, servesUse, type AddonCredentials, type GroupTarget, type GroupUse, type InheritedSet, type SecretGroupRecord } from '../domain/secret-group.ts';

/** Where linked addons' credentials come from: the addons' connection keys in plain text (AddonsService). */
export interface AddonCredentialSource {
  /** The addon's connection keys by name; NotFoundError when the addon does not exist. */
  credentials(projectId: string, addonId: string): Promise<Record<string, string>>;
}

export class InheritedEnvironment {
  constructor(
    private readonly store: Store,
    private readonly addons?: AddonCredentialSource,
  ) {}

  /** Every value a resource inherits for one use, with where it comes from and what it overrides. */
  async of(projectId: string, target: GroupTarget, use: GroupUse): Promise<InheritedSet> {
    const groups = await this.store.secretGroups.list(projectId);
    const applicable = groups.filter((g) => servesUse(g.spec.secretType, use) && appliesTo(g.spec, target));
    return inheritFrom(groups, target, use, await this.credentialsOf(projectId, applicable));
  }

  /**
   * The credentials of every addon the groups link, read fresh. An addon gone (its deletion raced a read)
   * gives nothing rather than failing every release of the project.
   */
  async credentialsOf(projectId: string, groups: readonly Pick<SecretGroupRecord, 'spec'>[]): Promise<AddonCredentials> {
    const out: Record<string, Record<string, string>> = {};
    if (!this.addons) return out;
    for (const g of groups) {
      for (const d of g.spec.addonDependencies) {
        if (d.addonId in out) continue;
        try {
          out[d.addonId] = await this.addons.credentials(projectId, d.addonId);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    }
    return out;
  }

  /** The runtime variables and files a service's release inherits (its own values are merged over them by deriveReleaseSpec). */
  async forRelease(svc: Pick<ServiceRecord, 'projectId' | 'id' | 'spec'>): Promise<ReleaseSecrets> {
    const { variables, files } = flatten(await this.of(svc.projectId, serviceTarget(svc), 'environment'));
    return { env: variables, files };
  }

  /** The build arguments a build of the service gets: its groups' arguments, then its own over them. */
  async buildArguments(svc: Pick<ServiceRecord, 'projectId' | 'id' | 'spec'>): Promise<Record<string, string>> {
    const { variables } = flatten(await this.of(svc.projectId, serviceTarget(svc), 'arguments'));
    return { ...variables, ...(svc.spec.buildArguments ?? {}) };
  }

  /** The runtime variables and files a job's next run inherits (the job's own go over them). */
  async forJob(job: Pick<JobRecord, 'projectId' | 'id' | 'spec'>): Promise<ReleaseSecrets> {
    const { variables, files } = flatten(await this.of(job.projectId, jobTarget(job), 'environment'));
    return { env: variables, files };
  }
}

export function serviceTarget(svc: Pick<ServiceRecord, 'id' | 'spec'>): GroupTarget {
  return { type: 'service', id: svc.id, tags: svc.spec.tags ?? [] };
}

export function jobTarget(job: Pick<JobRecord, 'id' | 'spec'>): GroupTarget {
  return { type: 'job', id: job.id, tags: job.spec.tags ?? [] };
}
