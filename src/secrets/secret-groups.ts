/**
 * Secret group use cases shared by every face: create, replace, change, read, list and delete a project's
 * groups, and the addon links. Every write checks the caller's right, the rules the schema cannot say and
 * every resource the group names, before anything is stored (a bad group leaves nothing behind); then the
 * services of the project get a new release where the change makes a difference, rolled out with each
 * service's own strategy, the group named as the cause. Jobs read their groups when a run starts.
 *
 * Who reads what: `viewer` tokens read a group's open fields and the names of its variables and files,
 * never a value; `developer`, `owner` and `admin` read values too. Writes need `developer` or above.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import type { ServiceRecord } from '../domain/service.ts';
import { NotFoundError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import { groupIdFromName, groupProblems, type AddonDependency, type Restrictions, type SecretGroupRecord, type SecretGroupSpec, type SecretGroupValues } from '../domain/secret-group.ts';
import { RESOURCE_ID_PATTERN } from '../domain/ids.ts';

/** What a group write may carry, as the `/v1` face hands it over (Northflank's fields). */
export interface SecretGroupInput {
  name?: string;
  description?: string;
  type?: SecretGroupSpec['type'];
  secretType?: SecretGroupSpec['secretType'];
  priority?: number;
  tags?: string[];
  restrictions?: Partial<Restrictions>;
  addonDependencies?: AddonDependency[];
  externalAddonDependencies?: AddonDependency[];
  stageId?: string;
  secrets?: Partial<SecretGroupValues>;
}

/** Refreshes a service's release after a group change; `cause` names the change in the release and rollout. */
export interface ReleaseRefresher {
  refresh(svc: ServiceRecord, opts?: { cause?: string }): Promise<unknown>;
}

/** A group as a reader may see it: values replaced by null for a role that may not read them. */
export interface GroupView {
  record: SecretGroupRecord;
  values: { variables: Record<string, string | null>; files: Record<string, { data: string | null; encoding?: string }> };
  valuesHidden: boolean;
}

export class SecretGroupsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly releases: ReleaseRefresher,
  ) {}

  /** Whether the caller may read values in the project (developer and above). */
  canReadValues(caller: Principal, projectId: string): boolean {
    try {
      this.auth.authorize(caller, projectId, 'write');
      return true;
    } catch {
      return false;
    }
  }

  view(caller: Principal, g: SecretGroupRecord): GroupView {
    if (this.canReadValues(caller, g.projectId)) return { record: g, values: g.values, valuesHidden: false };
    return { record: g, values: hideValues(g.values), valuesHidden: true };
  }

  async list(caller: Principal, projectId: string, page: { after?: string; limit: number }): Promise<SecretGroupRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.store.secretGroups.list(projectId, page);
  }

  async get(caller: Principal, projectId: string, id: string): Promise<GroupView> {
    this.auth.authorize(caller, projectId, 'read');
    return this.view(caller, await this.store.secretGroups.get(projectId, id));
  }

  async create(caller: Principal, projectId: string, input: SecretGroupInput): Promise<SecretGroupRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const { spec, values } = await this.complete(projectId, input);
    const id = groupIdFromName(spec.name);
    if (await this.store.secretGroups.find(projectId, id)) throw nameTaken(spec.name, projectId);
    const g = await this.store.secretGroups.create({ projectId, id, spec, values });
    await this.rollOut(projectId, `secret group '${id}' created`);
    return g;
  }

  /** Create or replace whole (Northflank's PUT), by the id the name gives. */
  async put(caller: Principal, projectId: string, input: SecretGroupInput): Promise<SecretGroupRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const { spec, values } = await this.complete(projectId, input);
    const id = groupIdFromName(spec.name);
    const cur = await this.store.secretGroups.find(projectId, id);
    if (!cur) {
      const g = await this.store.secretGroups.create({ projectId, id, spec, values });
      await this.rollOut(projectId, `secret group '${id}' created`);
      return g;
    }
    const g = await this.store.secretGroups.update(projectId, id, cur.version, spec, values);
    await this.rollOut(projectId, `secret group '${id}' changed`);
    return g;
  }

  /**
   * Change the fields given (PATCH, and Northflank's POST update): each top-level field replaces the stored
   * one; in `secrets`, `variables` and `files` each replace the stored set when given.
   */
  async change(caller: Principal, projectId: string, id: string, patch: SecretGroupInput): Promise<SecretGroupRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.secretGroups.get(projectId, id);
    const merged: SecretGroupInput = {
      ...cur.spec,
      ...stripUndefined(patch),
      name: cur.spec.name,
      restrictions: patch.restrictions ? { ...cur.spec.restrictions, ...stripUndefined(patch.restrictions) } : cur.spec.restrictions,
      secrets: { ...cur.values, ...stripUndefined(patch.secrets ?? {}) },
    };
    // What the change does not touch is not checked again: a restriction naming a service deleted since
    // must not block a change of the group's values.
    const { spec, values } = await this.complete(projectId, merged, { restrictions: patch.restrictions !== undefined, addons: patch.addonDependencies !== undefined || patch.externalAddonDependencies !== undefined });
    const g = await this.store.secretGroups.update(projectId, id, cur.version, spec, values);
    await this.rollOut(projectId, `secret group '${id}' changed`);
    return g;
  }

  async delete(caller: Principal, projectId: string, id: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.secretGroups.delete(projectId, id);
    await this.rollOut(projectId, `secret group '${id}' deleted`);
  }

  /**
   * Addon links. There are no addons in this installation yet, so every link names a missing addon: a link
   * write is refused naming `addonId`, a read or an unlink answers not found. The group must exist first.
   */
  async link(caller: Principal, projectId: string, id: string, addonId: string): Promise<never> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.secretGroups.get(projectId, id);
    throw ValidationError.one('addonId', 'exists', `no addon '${addonId}' in project '${projectId}'`);
  }

  async getLink(caller: Principal, projectId: string, id: string, addonId: string): Promise<never> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.secretGroups.get(projectId, id);
    throw new NotFoundError('addon', addonId);
  }

  async unlink(caller: Principal, projectId: string, id: string, addonId: string): Promise<never> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.secretGroups.get(projectId, id);
    throw new NotFoundError('addon', addonId);
  }

  /** Fill defaults, check every rule and every reference; throws ValidationError listing every problem. */
  private async complete(projectId: string, input: SecretGroupInput, check = { restrictions: true, addons: true }): Promise<{ spec: SecretGroupSpec; values: SecretGroupValues }> {
    const problems: FieldProblem[] = [];
    if (!input.name) problems.push({ field: 'name', rule: 'required', message: 'a secret group needs a name' });
    if (!input.secretType) problems.push({ field: 'secretType', rule: 'required', message: 'one of environment, arguments, environment-arguments' });
    if (input.priority === undefined) problems.push({ field: 'priority', rule: 'required', message: 'an integer from 0 to 100' });
    const r = input.restrictions ?? {};
    const spec: SecretGroupSpec = {
      name: input.name ?? '',
      ...(input.description !== undefined ? { description: input.description } : {}),
      type: input.type ?? 'secret',
      secretType: input.secretType ?? 'environment',
      priority: input.priority ?? 0,
      tags: input.tags ?? [],
      restrictions: { restricted: r.restricted ?? false, nfObjects: r.nfObjects ?? [], tags: r.tags ?? [], tagMatchCondition: r.tagMatchCondition ?? 'or' },
      addonDependencies: input.addonDependencies ?? [],
      externalAddonDependencies: input.externalAddonDependencies ?? [],
      ...(input.stageId !== undefined ? { stageId: input.stageId } : {}),
    };
    const values: SecretGroupValues = { variables: input.secrets?.variables ?? {}, files: input.secrets?.files ?? {} };
    if (spec.name && !RESOURCE_ID_PATTERN.test(groupIdFromName(spec.name))) problems.push({ field: 'name', rule: 'pattern', message: 'letters, digits, single spaces or hyphens, starting with a letter' });
    problems.push(...groupProblems(spec, values));
    for (const [i, o] of check.restrictions ? spec.restrictions.nfObjects.entries() : []) {
      const exists = o.type === 'service' ? await this.store.services.find(projectId, o.id) : await this.store.jobs.find(projectId, o.id);
      if (!exists) problems.push({ field: `restrictions.nfObjects.${i}.id`, rule: 'exists', message: `no ${o.type} '${o.id}' in project '${projectId}'` });
    }
    // No addons exist in this installation yet: every dependency names a missing one.
    for (const field of check.addons ? (['addonDependencies', 'externalAddonDependencies'] as const) : []) {
      spec[field].forEach((d, i) => problems.push({ field: `${field}.${i}.addonId`, rule: 'exists', message: `no addon '${d.addonId}' in project '${projectId}'` }));
    }
    if (problems.length) throw new ValidationError(problems);
    return { spec, values };
  }

  /**
   * Every service of the project gets the release its spec, build and groups now describe: where nothing
   * changed for a service, refresh makes no release. A failure on one service does not stop the others.
   */
  private async rollOut(projectId: string, cause: string): Promise<void> {
    const services = await this.store.services.list(projectId, { limit: 10_000 });
    let first: unknown;
    for (const svc of services) {
      await this.releases.refresh(svc, { cause }).catch((err: unknown) => (first ??= err));
    }
    if (first) throw new Error('a service could not be given its new release after a secret group change', { cause: first });
  }
}

function nameTaken(name: string, projectId: string): ValidationError {
  return ValidationError.one('name', 'unique', `a secret group named '${name}' already exists in project '${projectId}'`);
}

function hideValues(v: SecretGroupValues): GroupView['values'] {
  const variables: Record<string, null> = {};
  const files: Record<string, { data: null; encoding?: string }> = {};
  for (const k of Object.keys(v.variables)) variables[k] = null;
  for (const [p, f] of Object.entries(v.files)) files[p] = { data: null, ...(f.encoding ? { encoding: f.encoding } : {}) };
  return { variables, files };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
