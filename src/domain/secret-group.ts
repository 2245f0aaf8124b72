/**
 * Secret groups (and configuration groups): variables, build arguments and files kept once per project and
 * applied to its services and jobs, as Northflank models them. Pure rules only: which resources a group
 * applies to, how the groups a resource inherits merge (by priority), and the checks a group must pass
 * beyond its wire schema. See docs/secret-groups.md.
 */
import type { FieldProblem } from '../errors/errors.ts';

export const SECRET_TYPES = ['environment', 'arguments', 'environment-arguments'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];
/** `secret` groups hold sensitive values, `config` groups the rest; both merge the same way. */
export const GROUP_KINDS = ['secret', 'config'] as const;
export type GroupKind = (typeof GROUP_KINDS)[number];
export const NF_OBJECT_TYPES = ['service', 'job'] as const;
export type NfObjectType = (typeof NF_OBJECT_TYPES)[number];

export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 100;

export interface NfObject {
  id: string;
  type: NfObjectType;
}

export interface Restrictions {
  restricted: boolean;
  nfObjects: NfObject[];
  tags: string[];
  /** `or`: one of the tags is enough; `and`: the resource carries every tag */
  tagMatchCondition: 'and' | 'or';
}

export interface AddonDependency {
  addonId: string;
  keys: { keyName: string; aliases?: string[] }[];
}

export interface SecretFile {
  /** base64 of the contents (Northflank's documented form) */
  data: string;
  /** the contents' original encoding, e.g. `utf-8` */
  encoding?: string;
}

/** The open fields of a group: stored in clear, readable by every role with read access. */
export interface SecretGroupSpec {
  name: string;
  description?: string;
  type: GroupKind;
  secretType: SecretType;
  priority: number;
  tags: string[];
  restrictions: Restrictions;
  addonDependencies: AddonDependency[];
  externalAddonDependencies: AddonDependency[];
  /** the pipeline stage the client may name; stored and returned, no effect: slipway has no pipelines yet */
  stageId?: string;
}

/** The values of a group: sealed at rest, readable by roles that may change the project. */
export interface SecretGroupValues {
  variables: Record<string, string>;
  files: Record<string, SecretFile>;
}

export interface SecretGroupRecord {
  projectId: string;
  id: string;
  spec: SecretGroupSpec;
  values: SecretGroupValues;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A resource a group may apply to. */
export interface GroupTarget {
  type: NfObjectType;
  id: string;
  tags: readonly string[];
}

/** Where a group's values go: a service's instances (`environment`) or its builds (`arguments`). */
export type GroupUse = 'environment' | 'arguments';

export function servesUse(secretType: SecretType, use: GroupUse): boolean {
  return secretType === 'environment-arguments' || secretType === use;
}

/**
 * Whether a group applies to a resource. An unrestricted group applies to every service and job of its
 * project; a restricted one to the resources its `nfObjects` name and to those carrying its tags (one of
 * them with `or`, all of them with `and`). A restricted group with neither applies to nothing.
 */
export function appliesTo(spec: Pick<SecretGroupSpec, 'restrictions'>, target: GroupTarget): boolean {
  const r = spec.restrictions;
  if (!r.restricted) return true;
  if (r.nfObjects.some((o) => o.type === target.type && o.id === target.id)) return true;
  if (r.tags.length === 0) return false;
  const has = (t: string) => target.tags.includes(t);
  return r.tagMatchCondition === 'and' ? r.tags.every(has) : r.tags.some(has);
}

/** One value a resource inherits, where it comes from, and what it hides. */
export interface Inherited<V> {
  value: V;
  inheritedFrom: string;
  priority: number;
  /** the addon whose credential this is, when the group carries it through an addon link */
  addonId?: string;
  /** values of the same key from lower-priority groups, highest first */
  overriding: { value: V; inheritedFrom: string; priority: number; addonId?: string }[];
}

/** The credential keys of each linked addon, by addon id, resolved by the caller (an addon missing here is skipped). */
export type AddonCredentials = Readonly<Record<string, Readonly<Record<string, string>>>>;

/**
 * The variable a linked addon key gets when it has no alias, Northflank's default (`NF_<ADDON>_<KEY>`)
 * made a valid variable name: `my-database`'s HOST is `NF_MY_DATABASE_HOST`.
 */
export function defaultLinkName(addonId: string, keyName: string): string {
  return `NF_${addonId.toUpperCase().replace(/-/g, '_')}_${keyName}`;
}

/**
 * The variables one group's addon links give: each linked key under its default name and each alias. A key
 * the addon no longer offers, or an addon that is gone, gives nothing.
 */
export function linkedVariables(deps: readonly AddonDependency[], credentials: AddonCredentials): { name: string; value: string; addonId: string }[] {
  const out: { name: string; value: string; addonId: string }[] = [];
  for (const d of deps) {
    const keys = credentials[d.addonId];
    if (!keys) continue;
    for (const k of d.keys) {
      const value = keys[k.keyName];
      if (value === undefined) continue;
      for (const name of [defaultLinkName(d.addonId, k.keyName), ...(k.aliases ?? [])]) out.push({ name, value, addonId: d.addonId });
    }
  }
  return out;
}

export interface InheritedSet {
  variables: Record<string, Inherited<string>>;
  files: Record<string, Inherited<SecretFile>>;
}

/**
 * Order in which groups win: higher priority first; at equal priority the group whose id sorts first, so
 * the outcome never depends on the order the store returns rows in.
 */
export function byPrecedence(a: Pick<SecretGroupRecord, 'id' | 'spec'>, b: Pick<SecretGroupRecord, 'id' | 'spec'>): number {
  return b.spec.priority - a.spec.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * What a resource inherits for one use from the groups of its project: for each variable and file the
 * winning group's value, and the values it overrides. Files are runtime-only, so `arguments` has none.
 * A group's addon links give variables at the group's priority; within one group its own variables win
 * over the names its links give.
 */
export function inheritFrom(groups: readonly Pick<SecretGroupRecord, 'id' | 'spec' | 'values'>[], target: GroupTarget, use: GroupUse, credentials: AddonCredentials = {}): InheritedSet {
  const out: InheritedSet = { variables: {}, files: {} };
  const applicable = groups.filter((g) => servesUse(g.spec.secretType, use) && appliesTo(g.spec, target)).sort(byPrecedence);
  const add = <V>(into: Record<string, Inherited<V>>, key: string, value: V, g: Pick<SecretGroupRecord, 'id' | 'spec'>, addonId?: string) => {
    const cur = into[key];
    const from = { inheritedFrom: g.id, priority: g.spec.priority, ...(addonId ? { addonId } : {}) };
    if (cur) cur.overriding.push({ value, ...from });
    else into[key] = { value, ...from, overriding: [] };
  };
  for (const g of applicable) {
    for (const [k, v] of Object.entries(g.values.variables)) add(out.variables, k, v, g);
    for (const l of linkedVariables(g.spec.addonDependencies, credentials)) if (!(l.name in g.values.variables)) add(out.variables, l.name, l.value, g, l.addonId);
    if (use === 'environment') for (const [p, f] of Object.entries(g.values.files)) add(out.files, p, f, g);
  }
  return out;
}

/** Just the winning values: what a release or a build receives before the resource's own values go over them. */
export function flatten(set: InheritedSet): { variables: Record<string, string>; files: Record<string, SecretFile> } {
  const variables: Record<string, string> = {};
  const files: Record<string, SecretFile> = {};
  for (const [k, v] of Object.entries(set.variables)) variables[k] = v.value;
  for (const [p, f] of Object.entries(set.files)) files[p] = f.value;
  return { variables, files };
}

const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

/** The rules a group's content must keep that its wire schema cannot say. */
export function groupProblems(spec: Partial<SecretGroupSpec>, values: Partial<SecretGroupValues>): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (spec.priority !== undefined && (!Number.isInteger(spec.priority) || spec.priority < MIN_PRIORITY || spec.priority > MAX_PRIORITY)) {
    out.push({ field: 'priority', rule: 'range', message: `must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}` });
  }
  for (const k of Object.keys(values.variables ?? {})) {
    if (!VARIABLE_KEY.test(k)) out.push({ field: `secrets.variables.${k}`, rule: 'pattern', message: 'keys may only contain letters, numbers, underscores, hyphens, forward slashes and dots, and start with a letter or underscore' });
    else if (k === 'PORT' || k.startsWith('SLIPWAY_')) out.push({ field: `secrets.variables.${k}`, rule: 'reserved', message: 'PORT and SLIPWAY_* are set by the platform' });
  }
  for (const [p, f] of Object.entries(values.files ?? {})) {
    if (!p.startsWith('/') || p.split('/').includes('..') || p.endsWith('/')) out.push({ field: `secrets.files.${p}`, rule: 'absolutePath', message: "file path must be absolute, name a file, and not contain '..'" });
    if (f && !isBase64(f.data)) {
      out.push({ field: `secrets.files.${p}.data`, rule: 'base64', message: 'data must be the base64 of the file contents' });
    }
  }
  const seen = new Set<string>();
  (spec.restrictions?.nfObjects ?? []).forEach((o, i) => {
    const key = `${o.type}/${o.id}`;
    if (seen.has(key)) out.push({ field: `restrictions.nfObjects.${i}`, rule: 'unique', message: `${o.type} '${o.id}' is named twice` });
    seen.add(key);
  });
  for (const [field, deps] of [['addonDependencies', spec.addonDependencies], ['externalAddonDependencies', spec.externalAddonDependencies]] as const) {
    const ids = new Set<string>();
    (deps ?? []).forEach((d, i) => {
      if (ids.has(d.addonId)) out.push({ field: `${field}.${i}.addonId`, rule: 'unique', message: `addon '${d.addonId}' is linked twice` });
      ids.add(d.addonId);
      out.push(...linkKeyProblems(d.keys, `${field}.${i}.`));
    });
  }
  return out;
}

/** The rules an addon link's keys keep whatever the addon: each key once, each alias a valid variable name. */
export function linkKeyProblems(keys: AddonDependency['keys'], prefix = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  const names = new Set<string>();
  keys.forEach((k, m) => {
    if (names.has(k.keyName)) out.push({ field: `${prefix}keys.${m}.keyName`, rule: 'unique', message: `key '${k.keyName}' is linked twice` });
    names.add(k.keyName);
    (k.aliases ?? []).forEach((a, j) => {
      const field = `${prefix}keys.${m}.aliases.${j}`;
      if (!VARIABLE_KEY.test(a)) out.push({ field, rule: 'pattern', message: 'an alias is a variable name: letters, numbers, underscores, hyphens, forward slashes and dots, starting with a letter or underscore' });
      else if (a === 'PORT' || a.startsWith('SLIPWAY_')) out.push({ field, rule: 'reserved', message: 'PORT and SLIPWAY_* are set by the platform' });
    });
  });
  return out;
}

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** The id a group's name gives, as every Northflank resource id derives from its name. */
export function groupIdFromName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '-');
}
