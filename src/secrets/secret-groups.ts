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
import { defaultLinkName, groupIdFromName, groupProblems, linkedVariables, linkKeyProblems, type AddonDependency, type Restrictions, type SecretGroupRecord, type SecretGroupSpec, type SecretGroupValues } from '../domain/secret-group.ts';
import { RESOURCE_ID_PATTERN } from '../domain/ids.ts';
import type { AddonCredentialSource } from './inherited.ts';

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

/** One addon link as the link routes show it (Northflank's `get.secretLink`). */
export interface LinkView {
  group: SecretGroupRecord;
  addon: { id: string; name: string; type: string; version: string };
  linked: boolean;
  keys: { keyName: string; aliases?: string[]; defaultKey: string }[];
  availableKeys: string[];
}

/** A linked addon's variables as the group gives them (values null for a viewer). */
export interface LinkedSecrets {
  id: string;
  name: string;
  addonType: string;
  version: string;
  variables: Record<string, string | null>;
}

export class SecretGroupsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly releases: ReleaseRefresher,
    private readonly addons: AddonCredentialSource,
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
   * Link an addon to the group, or change the keys of its link (Northflank's `update.secretLink`): the
   * keys given replace the link's. The addon must exist in the project and offer every key named.
   */
  async link(caller: Principal, projectId: string, id: string, addonId: string, keys: AddonDependency['keys']): Promise<LinkView> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.secretGroups.get(projectId, id);
    const problems = linkKeyProblems(keys);
    const available = await this.availableKeys(projectId, addonId);
    if (!available) problems.push({ field: 'addonId', rule: 'exists', message: `no addon '${addonId}' in project '${projectId}'` });
    else keys.forEach((k, m) => available.includes(k.keyName) || problems.push(missingKey(`keys.${m}.keyName`, addonId, k.keyName, available)));
    if (problems.length) throw new ValidationError(problems);
    const dep: AddonDependency = { addonId, keys: keys.map((k) => ({ keyName: k.keyName, ...(k.aliases ? { aliases: k.aliases } : {}) })) };
    const deps = cur.spec.addonDependencies.some((d) => d.addonId === addonId) ? cur.spec.addonDependencies.map((d) => (d.addonId === addonId ? dep : d)) : [...cur.spec.addonDependencies, dep];
    const g = await this.store.secretGroups.update(projectId, id, cur.version, { ...cur.spec, addonDependencies: deps }, cur.values);
    await this.rollOut(projectId, `secret group '${id}' link to addon '${addonId}' changed`);
    return this.linkView(g, addonId);
  }

  async getLink(caller: Principal, projectId: string, id: string, addonId: string): Promise<LinkView> {
    this.auth.authorize(caller, projectId, 'read');
    return this.linkView(await this.store.secretGroups.get(projectId, id), addonId);
  }

  async unlink(caller: Principal, projectId: string, id: string, addonId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.secretGroups.get(projectId, id);
    if (!cur.spec.addonDependencies.some((d) => d.addonId === addonId)) throw new NotFoundError('addon link', addonId);
    await this.store.secretGroups.update(projectId, id, cur.version, { ...cur.spec, addonDependencies: cur.spec.addonDependencies.filter((d) => d.addonId !== addonId) }, cur.values);
    await this.rollOut(projectId, `secret group '${id}' unlinked from addon '${addonId}'`);
  }

  /** The groups of a project that link the addon (an addon is not deleted while any does). */
  async groupsLinking(projectId: string, addonId: string): Promise<SecretGroupRecord[]> {
    return (await this.store.secretGroups.list(projectId)).filter((g) => g.spec.addonDependencies.some((d) => d.addonId === addonId));
  }

  /**
   * An addon's credentials changed (a rotation the server has taken, a new port): every service of the
   * project gets the release its groups now describe, where a group links the addon. `change` names it.
   */
  async addonCredentialsChanged(projectId: string, addonId: string, change: string): Promise<void> {
    if ((await this.groupsLinking(projectId, addonId)).length === 0) return;
    await this.rollOut(projectId, `addon '${addonId}' ${change}`);
  }

  /** The variables each linked addon gives through the group, values hidden from a viewer. */
  async linkedSecrets(caller: Principal, g: SecretGroupRecord): Promise<LinkedSecrets[]> {
    const hidden = !this.canReadValues(caller, g.projectId);
    const out: LinkedSecrets[] = [];
    for (const d of g.spec.addonDependencies) {
      const a = await this.store.addons.find(g.projectId, d.addonId);
      if (!a) continue;
      const creds = await this.addons.credentials(g.projectId, d.addonId).catch(() => undefined);
      const variables: Record<string, string | null> = {};
      for (const l of linkedVariables([d], creds ? { [d.addonId]: creds } : {})) variables[l.name] = hidden ? null : l.value;
      out.push({ id: a.id, name: a.spec.name, addonType: a.spec.type, version: a.spec.version, variables });
    }
    return out;
  }

  private async linkView(g: SecretGroupRecord, addonId: string): Promise<LinkView> {
    const a = await this.store.addons.find(g.projectId, addonId);
    if (!a) throw new NotFoundError('addon', addonId);
    const dep = g.spec.addonDependencies.find((d) => d.addonId === addonId);
    return {
      group: g,
      addon: { id: a.id, name: a.spec.name, type: a.spec.type, version: a.spec.version },
      linked: dep !== undefined,
      keys: (dep?.keys ?? []).map((k) => ({ keyName: k.keyName, ...(k.aliases ? { aliases: k.aliases } : {}), defaultKey: defaultLinkName(addonId, k.keyName) })),
      availableKeys: (await this.availableKeys(g.projectId, addonId)) ?? [],
    };
  }

  /** The keys an addon of the project offers; undefined when there is no such addon (or it is being deleted). */
  private async availableKeys(projectId: string, addonId: string): Promise<string[] | undefined> {
    const a = await this.store.addons.find(projectId, addonId);
    if (!a || a.deleting) return undefined;
    try {
      return Object.keys(await this.addons.credentials(projectId, addonId));
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
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
    // Linked addons must exist in the project and offer the keys named. External addons do not exist here.
    for (const [i, d] of check.addons ? spec.addonDependencies.entries() : []) {
      const available = await this.availableKeys(projectId, d.addonId);
      if (!available) problems.push({ field: `addonDependencies.${i}.addonId`, rule: 'exists', message: `no addon '${d.addonId}' in project '${projectId}'` });
      else d.keys.forEach((k, m) => available.includes(k.keyName) || problems.push(missingKey(`addonDependencies.${i}.keys.${m}.keyName`, d.addonId, k.keyName, available)));
    }
    for (const [i, d] of check.addons ? spec.externalAddonDependencies.entries() : []) {
      problems.push({ field: `externalAddonDependencies.${i}.addonId`, rule: 'exists', message: `no external addon '${d.addonId}' in project '${projectId}': external addons are not available here` });
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

function missingKey(field: string, addonId: string, keyName: string, available: string[]): FieldProblem {
  return { field, rule: 'enum', message: `addon '${addonId}' has no key '${keyName}': one of ${available.join(', ')}` };
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
