/**
 * Addon use cases for every API face: types, create/put/get/list/patch/delete, pause/resume/restart/scale,
 * versions and credentials; its `backups` (addon-backups-service.ts) has the schedules, backups, imports,
 * restores and downloads. Validates everything before it writes, so a
 * refused request leaves nothing behind; the addon controller does the work (it is told through `changed`).
 *
 * `credentials(projectId, addonId)` is the call for linking an addon into secret groups: the connection
 * keys as Northflank names them (`HOST`, `PORT`, `USERNAME`, `PASSWORD`, `DATABASE`, `POSTGRES_URI`…).
 */
import crypto from 'node:crypto';
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import type { RuntimeDriver } from '../runtime/driver.ts';
import {
  ADDON_PROCESS_TYPE,
  ADDON_REPLICAS,
  replicaRange,
  ADDON_STORAGE_DEFAULT,
  ADDON_STORAGE_OPTIONS,
  ADDON_TYPES,
  TYPE_SETTINGS,
  DB_NAME,
  generatePassword,
  rotatedUsername,
  addonKey,
  connectionKeys,
  externalConnectionKeys,
  majorOf,
  resolveVersion,
  compareVersions,
  type BackupScheduleSpec,
  type AddonRecord,
  type AddonSpec,
  type AddonType,
} from '../domain/addons.ts';
import { findPlan, PLANS } from '../domain/plans.ts';
import { idFromName, randomId } from '../domain/ids.ts';
import { ConflictError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import type { AddonEngine } from './engines/engine.ts';
import { pickPort } from './places.ts';
import { AddonBackupsService } from './addon-backups-service.ts';
import { forkSource } from './forks.ts';

export interface AddonInput {
  name: string;
  description?: string;
  tags?: string[];
  type: string;
  version: string;
  billing: { deploymentPlan: string; storage: number; replicas: number; storageClass?: string; zonalRedundancy?: unknown };
  tlsEnabled?: boolean;
  externalAccessEnabled?: boolean;
  ipPolicies?: unknown[];
  typeSpecificSettings?: Record<string, unknown>;
  customCredentials?: { dbName?: string };
  backupSchedules?: unknown[];
  source?: unknown;
  infrastructure?: { architecture?: string };
  stageId?: string | null;
  metadata?: { labels?: unknown; annotations?: unknown };
}

export interface AddonPatch {
  description?: string;
  tags?: string[];
  version?: string;
  billing?: { deploymentPlan?: string; storage?: number; replicas?: number; storageClass?: string };
  tlsEnabled?: boolean;
  externalAccessEnabled?: boolean;
  ipPolicies?: unknown[];
  typeSpecificSettings?: Record<string, unknown>;
  backupSchedules?: unknown[];
  /** a stage to store, or null to clear it */
  stageId?: string | null;
  metadata?: { labels?: unknown; annotations?: unknown };
}

export interface AddonContainer {
  name: string;
  state: 'starting' | 'running' | 'exited';
  startedAt?: string;
  exitedAt?: string;
  /** how an exited server ended: its exit code, or the signal that ended it */
  exitCode?: number | null;
  signal?: string | null;
}

export class AddonsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly engines: ReadonlyMap<AddonType, AddonEngine>,
    private readonly driver: RuntimeDriver,
    private readonly opts: {
      dataDir: string;
      runtime: string;
      changed(key: string): void;
      images?: Partial<Record<AddonType, string>>;
      /** where clients outside reach an addon with external access (src/addons/external-access.ts), once routed */
      external?(a: AddonRecord): { host: string; port: number } | undefined;
    },
  ) {
    this.backups = new AddonBackupsService(store, auth, { get: (c, p, a) => this.get(c, p, a), live: (c, p, a) => this.live(c, p, a), engineFor: (type) => this.engineFor(type) }, opts);
  }

  /** schedules, backups, imports, restores and downloads of the addons this service keeps */
  readonly backups: AddonBackupsService;

  /** The addon types this installation runs, with the versions found installed. */
  types(): { engine: AddonEngine; versions: string[] }[] {
    return ADDON_TYPES.flatMap((t) => {
      const engine = this.engines.get(t);
      return engine ? [{ engine, versions: engine.installed() }] : [];
    }).filter((t) => t.versions.length > 0 && (this.opts.runtime === 'process' || this.opts.images?.[t.engine.type] !== undefined));
  }

  private engineFor(type: string, field = 'type'): AddonEngine {
    const engine = this.engines.get(type as AddonType);
    if (!engine || engine.installed().length === 0) {
      const known = this.types().map((t) => t.engine.type);
      throw ValidationError.one(field, 'enum', `unknown addon type '${type}': this installation runs ${known.map((k) => `'${k}'`).join(', ') || 'none'}`);
    }
    return engine;
  }

  private checkBilling(type: AddonType, billing: Partial<AddonInput['billing']>, problems: FieldProblem[], prefix = 'billing.'): void {
    const range = replicaRange(type);
    if (billing.deploymentPlan !== undefined && !findPlan(billing.deploymentPlan)) problems.push({ field: `${prefix}deploymentPlan`, rule: 'enum', message: `unknown plan '${billing.deploymentPlan}': one of ${PLANS.map((p) => p.id).join(', ')}` });
    if (billing.replicas !== undefined && (billing.replicas < range.min || billing.replicas > range.max)) problems.push({ field: `${prefix}replicas`, rule: 'range', message: `replicas of a ${type} addon must be between ${range.min} and ${range.max} here (the primary and its read replicas)` });
    if (billing.storage !== undefined && !(ADDON_STORAGE_OPTIONS as readonly number[]).includes(billing.storage)) problems.push({ field: `${prefix}storage`, rule: 'enum', message: `storage must be one of ${ADDON_STORAGE_OPTIONS.join(', ')} (MB)` });
  }

  private checkSettings(type: AddonType, settings: Record<string, unknown> | undefined, problems: FieldProblem[], unsupported: FieldProblem[]): void {
    for (const [k, v] of Object.entries(settings ?? {})) {
      const rule = TYPE_SETTINGS[k];
      if (!rule) continue; // the schema refuses unknown keys
      if (rule.type !== type && v !== undefined && v !== false && v !== 0) problems.push({ field: `typeSpecificSettings.${k}`, rule: 'type', message: `${k} applies to ${rule.type} addons only, not ${type}` });
      else if (rule.unsupportedWhen?.(v)) unsupported.push({ field: `typeSpecificSettings.${k}`, rule: 'supported', message: `${k} is not available in this installation` });
    }
  }

  /** `current`: the addon's settings when patching (TLS is chosen at create), absent on create. */
  private checkNetworking(input: { tlsEnabled?: boolean; externalAccessEnabled?: boolean; ipPolicies?: unknown[]; backupSchedules?: unknown[] }, unsupported: FieldProblem[], current?: { tlsEnabled: boolean }): void {
    if (current && input.tlsEnabled !== undefined && input.tlsEnabled !== current.tlsEnabled) unsupported.push({ field: 'tlsEnabled', rule: 'immutable', message: `TLS is chosen when an addon is created (this one has it ${current.tlsEnabled ? 'on' : 'off'}): create another addon and restore a backup into it` });
    if (input.ipPolicies?.length) unsupported.push({ field: 'ipPolicies', rule: 'supported', message: 'IP policies for addons are not available here' });
  }

  /** Where the addon would run: this machine, one zone, its architecture (x86). */
  private checkPlacement(input: Pick<AddonInput, 'billing' | 'infrastructure'>, unsupported: FieldProblem[]): void {
    // One machine is one zone: a zonal spread asked for cannot be kept ('disabled', or one zone, is what runs).
    const zonal = input.billing?.zonalRedundancy as { type?: string; minZones?: number } | undefined;
    if (zonal?.type === 'required' || (zonal?.minZones ?? 1) > 1) unsupported.push({ field: 'billing.zonalRedundancy', rule: 'supported', message: 'addons run on one machine, in one zone: zonal redundancy is not available here' });
    if (input.infrastructure?.architecture && input.infrastructure.architecture !== 'x86') unsupported.push({ field: 'infrastructure.architecture', rule: 'supported', message: "addons run on this machine's architecture (x86)" });
  }

  async create(caller: Principal, projectId: string, input: AddonInput): Promise<AddonRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const spec = this.validateNew(input);
    await this.backups.checkScheduleDestinations(input.backupSchedules as BackupScheduleSpec[] | undefined);
    const id = idFromName(input.name);
    if (await this.store.addons.find(projectId, id)) throw new ConflictError(`addon '${id}' already exists in project '${projectId}'`);
    const fork = input.source !== undefined ? await forkSource(this.store, this.auth, caller, projectId, input.source, spec) : undefined;
    const port = await pickPort(new Set(await this.store.addons.ports()));
    const secrets = { username: `u${crypto.randomBytes(6).toString('hex')}`, password: generatePassword() };
    const a = await this.store.addons.create({ projectId, id, spec, secrets, port });
    await this.backups.saveSchedules(projectId, id, (input.backupSchedules ?? []) as BackupScheduleSpec[]);
    // A fork: the backup is restored into the new addon once its server first runs (the restore history shows it).
    if (fork) await this.store.addons.createRestore({ projectId, addonId: id, id: randomId('restore'), backupId: fork.id });
    this.opts.changed(addonKey(projectId, id));
    return a;
  }

  private validateNew(input: AddonInput): AddonSpec {
    const engine = this.engineFor(input.type);
    if (this.opts.runtime !== 'process' && !this.opts.images?.[engine.type]) {
      const setting = `SLIPWAY_ADDON_IMAGE_${engine.type.toUpperCase()}`;
      throw new UnsupportedError([{ field: 'type', rule: 'runtime', message: `${engine.type} addons on the '${this.opts.runtime}' runtime need an image: this installation sets no ${setting}` }]);
    }
    const problems: FieldProblem[] = [];
    const unsupported: FieldProblem[] = [];
    const version = resolveVersion(input.version, engine.installed());
    if (!version) problems.push({ field: 'version', rule: 'installed', message: `version '${input.version}' of ${input.type} is not installed here: one of ${engine.installed().join(', ')}, a major version, 'latest' or '<major>-latest'` });
    this.checkBilling(engine.type, input.billing, problems);
    this.checkSettings(engine.type, input.typeSpecificSettings, problems, unsupported);
    const dbName = input.customCredentials?.dbName;
    if (dbName !== undefined && !engine.features.customDBName) problems.push({ field: 'customCredentials.dbName', rule: 'type', message: `${input.type} addons have no database name` });
    else if (dbName !== undefined && !DB_NAME.test(dbName)) problems.push({ field: 'customCredentials.dbName', rule: 'pattern', message: 'a database name is a letter or underscore, then up to 62 letters, digits or underscores' });
    this.checkNetworking(input, unsupported);
    this.backups.checkSchedules((input.backupSchedules ?? []) as BackupScheduleSpec[], [], problems, unsupported);
    this.checkPlacement(input, unsupported);
    if (problems.length) throw new ValidationError(problems);
    if (unsupported.length) throw new UnsupportedError(unsupported);
    return {
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      tags: input.tags ?? [],
      type: engine.type,
      version: version!,
      billing: { deploymentPlan: input.billing.deploymentPlan, storage: input.billing.storage ?? ADDON_STORAGE_DEFAULT, replicas: input.billing.replicas ?? ADDON_REPLICAS.default, ...(input.billing.storageClass ? { storageClass: input.billing.storageClass } : {}) },
      tlsEnabled: input.tlsEnabled ?? false,
      externalAccessEnabled: input.externalAccessEnabled ?? false,
      ...(input.typeSpecificSettings ? { typeSpecificSettings: input.typeSpecificSettings } : {}),
      ...(dbName ? { dbName } : {}),
      ...(input.stageId ? { stageId: input.stageId } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
  }

  /** Create, or update the addon the name derives (Northflank's PUT on the collection). */
  async put(caller: Principal, projectId: string, input: AddonInput): Promise<AddonRecord> {
    const cur = await this.store.addons.find(projectId, idFromName(input.name));
    if (!cur) return this.create(caller, projectId, input);
    if (cur.spec.type !== input.type) throw ValidationError.one('type', 'immutable', `addon '${cur.id}' is a ${cur.spec.type} addon; its type cannot change`);
    if (input.customCredentials?.dbName !== undefined && input.customCredentials.dbName !== cur.spec.dbName) throw ValidationError.one('customCredentials.dbName', 'immutable', 'the database name cannot change after creation');
    const { name: _n, type: _t, customCredentials: _c, source, infrastructure: _i, billing: { zonalRedundancy: _z, ...billing }, ...patch } = input;
    const unsupported: FieldProblem[] = [];
    if (source) unsupported.push({ field: 'source', rule: 'supported', message: `addon '${cur.id}' exists: a fork (source) makes a new addon; restore the backup into this one instead` });
    this.checkPlacement(input, unsupported);
    if (unsupported.length) throw new UnsupportedError(unsupported);
    return this.patch(caller, projectId, cur.id, { ...patch, billing });
  }

  async get(caller: Principal, projectId: string, addonId: string): Promise<AddonRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.addons.get(projectId, addonId);
  }

  async list(caller: Principal, projectId: string, page: { after?: string; limit: number }): Promise<AddonRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.store.addons.list(projectId, page);
  }

  private async live(caller: Principal, projectId: string, addonId: string): Promise<AddonRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const a = await this.store.addons.get(projectId, addonId);
    if (a.deleting) throw new ConflictError(`addon '${addonId}' is being deleted`);
    return a;
  }

  async patch(caller: Principal, projectId: string, addonId: string, patch: AddonPatch): Promise<AddonRecord> {
    const cur = await this.live(caller, projectId, addonId);
    const engine = this.engineFor(cur.spec.type);
    const problems: FieldProblem[] = [];
    const unsupported: FieldProblem[] = [];
    let version = cur.spec.version;
    if (patch.version !== undefined) {
      const v = resolveVersion(patch.version, engine.installed());
      if (!v) problems.push({ field: 'version', rule: 'installed', message: `version '${patch.version}' of ${cur.spec.type} is not installed here: one of ${engine.installed().join(', ')}` });
      else if (majorOf(v) !== majorOf(cur.spec.version)) unsupported.push({ field: 'version', rule: 'sameMajor', message: `moving from ${cur.spec.version} to another major version (${v}) needs a dump and restore: create a new addon and restore a backup into it` });
      else version = v;
    }
    this.checkBilling(cur.spec.type, patch.billing ?? {}, problems);
    this.checkSettings(cur.spec.type, patch.typeSpecificSettings, problems, unsupported);
    this.checkNetworking(patch, unsupported, cur.spec);
    if (patch.backupSchedules) this.backups.checkSchedules(patch.backupSchedules as BackupScheduleSpec[], [], problems, unsupported);
    if (problems.length) throw new ValidationError(problems);
    await this.backups.checkScheduleDestinations(patch.backupSchedules as BackupScheduleSpec[] | undefined);
    if (unsupported.length) throw new UnsupportedError(unsupported);
    if (patch.backupSchedules) {
      // The addon's schedules become exactly the ones given (Northflank's PATCH of the list).
      await this.store.addons.deleteSchedules(projectId, addonId);
      await this.backups.saveSchedules(projectId, addonId, patch.backupSchedules as BackupScheduleSpec[]);
    }
    const spec: AddonSpec = {
      ...cur.spec,
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
      version,
      billing: { ...cur.spec.billing, ...Object.fromEntries(Object.entries(patch.billing ?? {}).filter(([, v]) => v !== undefined)) },
      ...(patch.externalAccessEnabled !== undefined ? { externalAccessEnabled: patch.externalAccessEnabled } : {}),
      ...(patch.typeSpecificSettings ? { typeSpecificSettings: { ...cur.spec.typeSpecificSettings, ...patch.typeSpecificSettings } } : {}),
      ...(patch.stageId ? { stageId: patch.stageId } : {}),
      ...(patch.metadata ? { metadata: patch.metadata } : {}),
    };
    if (patch.stageId === null) delete spec.stageId;
    const a = await this.store.addons.update(projectId, addonId, cur.version, { spec });
    this.opts.changed(addonKey(projectId, addonId));
    return a;
  }

  async scale(caller: Principal, projectId: string, addonId: string, billing: { deploymentPlan?: string; storage?: number; replicas?: number }): Promise<AddonRecord> {
    const problems: FieldProblem[] = [];
    const a = await this.get(caller, projectId, addonId);
    this.checkBilling(a.spec.type, billing, problems, '');
    if (problems.length) throw new ValidationError(problems);
    return this.patch(caller, projectId, addonId, { billing });
  }

  async updateVersion(caller: Principal, projectId: string, addonId: string, version: string): Promise<AddonRecord> {
    return this.patch(caller, projectId, addonId, { version });
  }

  /** The running version, what it can move to here (same major, newer), and its history (none kept yet). */
  async version(caller: Principal, projectId: string, addonId: string): Promise<{ version: string; upgradeTo: { version: string; type: 'major' | 'minor' | 'patch' }[] }> {
    const a = await this.get(caller, projectId, addonId);
    const engine = this.engineFor(a.spec.type);
    const upgradeTo = engine
      .installed()
      .filter((v) => majorOf(v) === majorOf(a.spec.version) && compareVersions(v, a.spec.version) > 0)
      .map((v) => ({ version: v, type: (v.split('.')[1] !== a.spec.version.split('.')[1] ? 'minor' : 'patch') as 'minor' | 'patch' }));
    return { version: a.spec.version, upgradeTo };
  }

  /**
   * Mark for deletion: the controller stops the server, and only then removes its data and backups.
   * Refused while a secret group links the addon: the services reading it would lose their connection
   * settings silently; unlink it first (docs/addons.md).
   */
  async delete(caller: Principal, projectId: string, addonId: string): Promise<AddonRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const linking = (await this.store.secretGroups.list(projectId)).filter((g) => g.spec.addonDependencies.some((d) => d.addonId === addonId));
    if (linking.length) throw new ConflictError(`addon '${addonId}' is linked by secret group${linking.length > 1 ? 's' : ''} ${linking.map((g) => `'${g.id}'`).join(', ')}: unlink it first`);
    const a = await this.store.addons.mutate(projectId, addonId, () => ({ deleting: true, status: 'deleting' }));
    this.opts.changed(addonKey(projectId, addonId));
    return a;
  }

  async pause(caller: Principal, projectId: string, addonId: string): Promise<void> {
    await this.live(caller, projectId, addonId);
    const busy = await this.backups.busy(projectId, addonId);
    if (busy) throw new ConflictError(`addon '${addonId}' has a ${busy} in progress: pause it once that has finished`);
    await this.store.addons.mutate(projectId, addonId, () => ({ paused: true }));
    this.opts.changed(addonKey(projectId, addonId));
  }

  async resume(caller: Principal, projectId: string, addonId: string): Promise<void> {
    await this.live(caller, projectId, addonId);
    await this.store.addons.mutate(projectId, addonId, (a) => ({ paused: false, ...(a.paused ? { status: 'allocating' as const } : {}) }));
    this.opts.changed(addonKey(projectId, addonId));
  }

  async restart(caller: Principal, projectId: string, addonId: string): Promise<void> {
    const a = await this.live(caller, projectId, addonId);
    if (a.paused) throw new ConflictError(`addon '${addonId}' is paused: resume it instead`);
    await this.store.addons.mutate(projectId, addonId, (cur) => ({ generation: cur.generation + 1 }));
    this.opts.changed(addonKey(projectId, addonId));
  }

  /** The server's instances as the runtime reports them. */
  async containers(caller: Principal, projectId: string, addonId: string): Promise<AddonContainer[]> {
    await this.get(caller, projectId, addonId);
    const all = await this.driver.list();
    return all
      .filter((i) => i.labels.processType === ADDON_PROCESS_TYPE && i.labels.project === projectId && i.labels.service === addonId)
      .map((i) => ({ name: i.id, state: i.state, ...(i.startedAt ? { startedAt: i.startedAt } : {}), ...(i.exitedAt ? { exitedAt: i.exitedAt } : {}), ...(i.state === 'exited' ? { exitCode: i.exitCode ?? null, signal: i.signal ?? null } : {}) }));
  }

  /**
   * The addon's connection keys as Northflank names them (`HOST`, `PORT`, `USERNAME`, `PASSWORD`,
   * `DATABASE`, `POSTGRES_URI`, `MYSQL_URI`, `REDIS_MASTER_URL`, `TLS_ENABLED`…), in plain text. For linking
   * an addon into secret groups (`addonDependencies`); callers check access themselves. NotFoundError if
   * the addon does not exist.
   */
  async credentials(projectId: string, addonId: string): Promise<Record<string, string>> {
    const a = await this.store.addons.get(projectId, addonId);
    const engine = this.engineFor(a.spec.type);
    const secrets = await this.store.addons.secrets(projectId, addonId);
    const replicaPorts = a.replicaPorts.slice(0, Math.max(0, a.spec.billing.replicas - 1));
    return connectionKeys(a.spec.type, { host: '127.0.0.1', port: a.port, username: secrets.username, password: secrets.password, database: engine.database(a), tlsEnabled: a.spec.tlsEnabled, replicaPorts });
  }

  /**
   * Rotate the credentials without downtime: the next login is stored as pending; the controller makes the
   * server accept it beside the current one, promotes it, rolls the linked services out, and retires the
   * replaced login once no instance uses it (docs/addons.md). Refused (409) while a rotation is under way.
   */
  async rotateCredentials(caller: Principal, projectId: string, addonId: string): Promise<void> {
    const a = await this.live(caller, projectId, addonId);
    if (a.paused) throw new ConflictError(`addon '${addonId}' is paused: resume it to rotate its credentials`);
    const secrets = await this.store.addons.secrets(projectId, addonId);
    if (secrets.next || secrets.nextPassword) throw new ConflictError(`addon '${addonId}' is already rotating its credentials`);
    if (secrets.retiring) throw new ConflictError(`addon '${addonId}' keeps its previous credentials valid until the services using them have rolled out: rotate again once they are retired`);
    await this.store.addons.setSecrets(projectId, addonId, { username: secrets.username, password: secrets.password, next: { username: rotatedUsername(a.spec.type, secrets.username), password: generatePassword() } });
    this.opts.changed(addonKey(projectId, addonId));
  }

  /** Where a rotation stands: `idle`, `rotating` (the next login not yet in use) or `retiring` (the replaced one still valid). */
  async rotationState(caller: Principal, projectId: string, addonId: string): Promise<'idle' | 'rotating' | 'retiring'> {
    await this.get(caller, projectId, addonId);
    const s = await this.store.addons.secrets(projectId, addonId);
    return s.next || s.nextPassword ? 'rotating' : s.retiring ? 'retiring' : 'idle';
  }

  /** The same keys, for a caller who may read the addon, and the external ones when it has external access. */
  async credentialsFor(caller: Principal, projectId: string, addonId: string): Promise<Record<string, string>> {
    this.auth.authorize(caller, projectId, 'write');
    const keys = await this.credentials(projectId, addonId);
    // With external access: the same login through the router (Northflank's EXTERNAL_ keys), once routed.
    const a = await this.store.addons.get(projectId, addonId);
    const ext = this.opts.external?.(a);
    if (!ext) return keys;
    const secrets = await this.store.addons.secrets(projectId, addonId);
    return { ...keys, ...externalConnectionKeys(a.spec.type, { ...ext, username: secrets.username, password: secrets.password, database: this.engineFor(a.spec.type).database(a), tlsEnabled: a.spec.tlsEnabled }) };
  }
}
