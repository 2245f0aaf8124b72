/**
 * The addon controller: one pass per addon key (`project/addon`) closes the gap between the addon's row
 * (desired: running or paused, its generation, being deleted) and the runtime (its server's instance).
 *
 *   row gone/deleting → stop the server, then remove data and backups, then the row
 *   paused            → stop the server                                  → status paused
 *   instance of an older generation or spec → stop it (the next pass starts the new one)
 *   no instance       → write the server's files, start it               → allocating
 *   instance exited   → record why, remove, start again after a back-off → error
 *   running           → ping with the credentials; first time: create the database → running
 *   running and idle  → take the oldest scheduled backup, then restore (addon-backup-runner.ts)
 *
 * Backups and restores run inside the pass, so they never overlap a start, stop or each other for the same
 * addon. A pass interrupted by a control-plane kill leaves a backup or restore `in-progress`: the next
 * start marks it failed (its temporary files were never swapped in, so the data is as it was).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import { STOPPED, type ObservedInstance, type RuntimeDriver } from '../runtime/driver.ts';
import type { PassResult } from '../controllers/queue.ts';
import { ADDON_PROCESS_TYPE, addonInstanceId, addonKey, parseAddonKey, type AddonLogin, type AddonRecord, type AddonType } from '../domain/addons.ts';
import { findPlan } from '../domain/plans.ts';
import type { AddonEngine, EngineContext } from './engines/engine.ts';
import type { ServerUser } from './server-user.ts';
import { BackupFiles } from './destinations/backup-files.ts';
import { CredentialRotation } from './rotation.ts';
import { AddonBackupRunner, type AddonServer } from './addon-backup-runner.ts';
import { addonCertificate, installCertificate, serverTls } from './tls.ts';
import { addonDir, backupFile, pickPort } from './places.ts';
import { portFree } from '../net/port-free.ts';

export interface AddonControllerLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface AddonControllerOptions {
  dataDir: string;
  isolation: 'bwrap' | 'none';
  user: ServerUser;
  logger: AddonControllerLogger;
  requeue(key: string): void;
  /**
   * Told once the addon's credentials changed in the store (a rotated password the server has taken, or a
   * new port): what reads them (services linked through secret groups) is refreshed; `change` says what
   * happened, for the rollout's cause. A failure is logged; it does not undo the change.
   */
  credentialsChanged?(projectId: string, addonId: string, change: string): Promise<void>;
  /** how long a stopping server may take to shut down cleanly before it is killed */
  stopGraceSeconds?: number;
  /** how long a started server may take to answer before the start counts as failed */
  startTimeoutMs?: number;
  /**
   * Container runtimes: the image each type's server runs from (see docs/addons.md, "On the docker
   * runtime"). Set: the server runs in that image as the server user, on the host's network.
   */
  images?: Partial<Record<AddonType, string>>;
  /** the platform's base domain: addon certificates name it too (external access) */
  domain?: string;
  /** how long a rotation's replaced login stays valid for instances not yet rolled out (default 30 min) */
  retireAfterMs?: number;
}

const HOST = '127.0.0.1';

/** The runtime's name for a server's data volume: the primary's (ordinal 0), or a read replica's. */
function addonVolumeName(projectId: string, addonId: string, ordinal: number): string {
  return `addon-${projectId}-${addonId}${ordinal ? `-r${ordinal}` : ''}`;
}
const MOUNT = '/data';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AddonController {
  /** where backups' files are: the data directory, or a backup destination */
  private readonly files: BackupFiles;
  /** consecutive failed starts per addon key, for the back-off; cleared once the server answers */
  private readonly failures = new Map<string, { count: number; notBefore: number }>();
  /** addons whose linked services were brought up to date with their credentials since this process started */
  private readonly announced = new Set<string>();
  private readonly rotation: CredentialRotation;
  private readonly backups: AddonBackupRunner;

  constructor(
    private readonly store: Store,
    private readonly driver: RuntimeDriver,
    private readonly engines: ReadonlyMap<AddonType, AddonEngine>,
    private readonly opts: AddonControllerOptions,
  ) {
    this.files = new BackupFiles(store, opts.dataDir);
    this.rotation = new CredentialRotation(store, driver, {
      logger: opts.logger,
      notify: (a, change) => this.notifyCredentials(a, change),
      replicas: (a) => this.runningReplicas(a),
      retireAfterMs: opts.retireAfterMs,
    });
    const server: AddonServer = {
      context: (a) => this.context(a),
      setStatus: (a, status) => this.setStatus(a, status),
      stop: (a) => this.driver.stop(addonInstanceId(a.projectId, a.id), this.grace()),
      startAndWait: (a, engine, formerLogin) => this.startAndWait(a, engine, formerLogin),
      dropReplicas: (a) => this.dropReplicas(a),
    };
    this.backups = new AddonBackupRunner(store, this.files, server, { dataDir: opts.dataDir, user: opts.user, logger: opts.logger });
  }

  /** Contexts of the read replicas that run now. */
  private async runningReplicas(a: AddonRecord): Promise<EngineContext[]> {
    const out: EngineContext[] = [];
    for (const inst of await this.observed(a.projectId, a.id)) {
      const ordinal = this.ordinalOf(inst.id);
      if (ordinal >= 1 && ordinal < a.spec.billing.replicas && inst.state === 'running') out.push(await this.replicaContext(a, ordinal));
    }
    return out;
  }

  /** On start: backups and restores a killed control plane left running are failed; every addon is enqueued. */
  async start(): Promise<string[]> {
    const keys: string[] = [];
    for (const k of await this.store.addons.listKeys()) {
      for (const b of await this.store.addons.listBackups(k.projectId, k.id, { limit: 1000, statuses: ['in-progress'] })) {
        await this.store.addons.finishBackup(b.id, { status: 'failed', error: 'interrupted: the control plane stopped during the backup' });
        fs.rmSync(`${backupFile(this.opts.dataDir, b.projectId, b.addonId, b.file)}.partial`, { force: true });
      }
      const interrupted = await this.store.addons.listRestores(k.projectId, k.id, { statuses: ['in-progress'] });
      if (interrupted.length) await this.undoDirectorySwap(k.projectId, k.id);
      for (const r of interrupted) {
        await this.store.addons.setRestoreStatus(r.id, 'failed', 'interrupted: the control plane stopped during the restore; the data is as it was (a PostgreSQL or MySQL swap that had already completed is kept)');
      }
      keys.push(addonKey(k.projectId, k.id));
    }
    return keys;
  }

  /**
   * A restore that swaps directories (snapshots; Redis dumps) leaves `<dir>.replaced` beside the live one
   * until it succeeded. Found at start, the restore did not finish: the old directory goes back, with the
   * server stopped, and the half-made ones are removed.
   */
  private async undoDirectorySwap(projectId: string, addonId: string): Promise<void> {
    const root = addonDir(this.opts.dataDir, projectId, addonId);
    const pairs = [path.join(root, 'data'), path.join(root, 'data', 'redis')];
    for (const live of pairs) {
      const prev = `${live}.replaced`;
      if (fs.existsSync(prev)) {
        for (const inst of await this.observed(projectId, addonId)) await this.driver.stop(inst.id, this.grace());
        fs.rmSync(live, { recursive: true, force: true });
        fs.renameSync(prev, live);
        this.opts.logger.warn({ addon: addonKey(projectId, addonId), dir: live }, 'interrupted restore: the data directory it replaced is back');
      }
      fs.rmSync(`${live}.restore`, { recursive: true, force: true });
    }
  }

  /** Every addon key the runtime has a server of (orphans included): the resync reconciles them too. */
  async runtimeKeys(): Promise<string[]> {
    return (await this.driver.list()).filter((i) => i.labels.processType === ADDON_PROCESS_TYPE).map((i) => addonKey(i.labels.project, i.labels.service));
  }

  private observed(projectId: string, addonId: string): Promise<ObservedInstance[]> {
    return this.driver.list().then((all) => all.filter((i) => i.labels.processType === ADDON_PROCESS_TYPE && i.labels.project === projectId && i.labels.service === addonId));
  }

  /** Where the server sees its data directory: `/data` in a sandbox or a container, else the host path. */
  private mountPath(dataDir: string): string {
    return this.opts.images || this.opts.isolation === 'bwrap' ? MOUNT : dataDir;
  }

  private grace(): number {
    return this.opts.stopGraceSeconds ?? 30;
  }

  async context(a: AddonRecord): Promise<EngineContext> {
    const dataDir = path.join(addonDir(this.opts.dataDir, a.projectId, a.id), 'data');
    const mountPath = this.mountPath(dataDir);
    return {
      addon: a,
      secrets: await this.store.addons.secrets(a.projectId, a.id),
      dataDir,
      mountPath,
      ...(a.spec.tlsEnabled ? { tls: serverTls(dataDir, mountPath) } : {}),
      memoryMb: findPlan(a.spec.billing.deploymentPlan)?.memoryMb ?? 512,
      user: this.opts.user,
      host: HOST,
    };
  }

  /** The identity of the server an addon should run: a new one replaces a running one of another. */
  private releaseOf(a: AddonRecord): string {
    const shape = JSON.stringify([a.spec.version, a.spec.billing.deploymentPlan, a.spec.typeSpecificSettings ?? {}, a.port, ...(a.spec.tlsEnabled ? ['tls'] : [])]);
    return `g${a.generation}-${crypto.createHash('sha256').update(shape).digest('hex').slice(0, 8)}`;
  }

  private replicaReleaseOf(a: AddonRecord, ordinal: number): string {
    return `${this.releaseOf(a)}-r${ordinal}-${a.replicaPorts[ordinal - 1] ?? 0}`;
  }

  /** A read replica's context: its own data directory and port, following the primary. */
  private async replicaContext(a: AddonRecord, ordinal: number): Promise<EngineContext> {
    const primary = await this.context(a);
    const dataDir = path.join(addonDir(this.opts.dataDir, a.projectId, a.id), `replica-${ordinal}`);
    const mountPath = this.mountPath(dataDir);
    return {
      ...primary,
      addon: { ...a, port: a.replicaPorts[ordinal - 1] },
      dataDir,
      mountPath,
      ...(a.spec.tlsEnabled ? { tls: serverTls(dataDir, mountPath) } : {}),
      replicaOf: { host: HOST, port: a.port },
    };
  }

  private ordinalOf(id: string): number {
    const m = /--(\d+)$/.exec(id);
    return m ? Number(m[1]) : -1;
  }

  /**
   * Read replicas (ordinal 1…replicas-1), once the primary answers: ports allocated and kept in the row, a
   * replica started from the primary (a PostgreSQL base backup, a Redis replicaof), a crashed one started
   * again on the next pass. They never hold up the addon's status: the primary is the addon.
   */
  private async reconcileReplicas(a: AddonRecord, engine: AddonEngine, observed: ObservedInstance[]): Promise<void> {
    const want = a.spec.billing.replicas - 1;
    if (want <= 0) return;
    if (a.replicaPorts.length < want) {
      const taken = new Set(await this.store.addons.ports());
      const ports = [...a.replicaPorts];
      while (ports.length < want) {
        const port = await pickPort(taken);
        taken.add(port);
        ports.push(port);
      }
      a = await this.store.addons.mutate(a.projectId, a.id, () => ({ replicaPorts: ports }));
    }
    for (let ordinal = 1; ordinal <= want; ordinal++) {
      const id = addonInstanceId(a.projectId, a.id, ordinal);
      const inst = observed.find((i) => i.id === id);
      const ctx = await this.replicaContext(a, ordinal);
      try {
        if (inst && inst.labels.release !== this.replicaReleaseOf(a, ordinal)) await this.driver.stop(id, this.grace());
        else if (inst?.state === 'exited') {
          this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), replica: ordinal, exitCode: inst.exitCode }, 'addon replica exited; starting it again');
          await this.driver.remove(id);
        } else if (!inst) await this.launch(a, engine, { ordinal, ctx });
        else if (await engine.ping(ctx)) await engine.afterReady(ctx);
      } catch (err) {
        this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), replica: ordinal, err: (err as Error).message }, 'addon replica could not be started');
      }
    }
  }

  /** Stop replicas beyond the wanted count and remove their data (a scale down). */
  private async removeSurplusReplicas(a: AddonRecord, observed: ObservedInstance[]): Promise<void> {
    for (const inst of observed) {
      const ordinal = this.ordinalOf(inst.id);
      if (ordinal >= 1 && ordinal >= a.spec.billing.replicas) {
        await this.driver.stop(inst.id, this.grace());
        fs.rmSync(path.join(addonDir(this.opts.dataDir, a.projectId, a.id), `replica-${ordinal}`), { recursive: true, force: true });
      }
    }
  }

  /** Stop every replica and drop its data: after a snapshot restore they no longer follow the primary's files. */
  private async dropReplicas(a: AddonRecord): Promise<void> {
    for (const inst of await this.observed(a.projectId, a.id)) {
      const ordinal = this.ordinalOf(inst.id);
      if (ordinal < 1) continue;
      await this.driver.stop(inst.id, this.grace());
      fs.rmSync(path.join(addonDir(this.opts.dataDir, a.projectId, a.id), `replica-${ordinal}`), { recursive: true, force: true });
    }
  }

  async reconcile(key: string): Promise<PassResult> {
    const { projectId, addonId } = parseAddonKey(key);
    const a = await this.store.addons.find(projectId, addonId);
    const observed = await this.observed(projectId, addonId);
    const projectGone = a ? !(await this.store.projects.find(projectId)) : false;

    if (!a || a.deleting || projectGone) return this.remove(key, a, observed);
    const engine = this.engines.get(a.spec.type);
    if (!engine) return this.setStatus(a, 'error', `addon type '${a.spec.type}' is not installed here`);

    if (a.paused) {
      for (const inst of observed) await this.driver.stop(inst.id, this.grace());
      if (a.status !== 'paused') await this.setStatus(a, 'paused');
      return;
    }

    await this.removeSurplusReplicas(a, observed);
    const release = this.releaseOf(a);
    const primaryId = addonInstanceId(projectId, addonId);
    const stale = observed.filter((i) => (i.id === primaryId && i.labels.release !== release) || this.ordinalOf(i.id) < 0);
    if (stale.length) {
      for (const inst of stale) await this.driver.stop(inst.id, this.grace());
      await this.setStatus(a, a.initialized ? 'upgrading' : 'allocating');
      return { againInMs: 0 };
    }

    const inst = observed.find((i) => i.id === primaryId);
    if (inst?.state === 'exited') return this.onExit(key, a, inst);
    if (!inst) return this.startServer(key, a, engine);

    const ctx = await this.context(a);
    await this.rotation.step(a, engine, ctx);
    if (!(await engine.ping(ctx))) {
      const startedMs = inst.startedAt ? Date.now() - Date.parse(inst.startedAt) : 0;
      if (startedMs > (this.opts.startTimeoutMs ?? 120_000)) {
        await this.setStatus(a, 'error', `the server did not answer within ${Math.round(startedMs / 1000)} s: restarting it`);
        await this.driver.stop(inst.id, this.grace());
        return { againInMs: 0 };
      }
      return { againInMs: 300 };
    }
    this.failures.delete(key);
    if (!a.initialized) await this.setStatus(a, 'postDeployment');
    await engine.afterReady(ctx);
    const ready = a.initialized && a.status === 'running' ? a : await this.store.addons.mutate(projectId, addonId, () => ({ initialized: true, status: 'running', statusMessage: undefined }));
    // Once per start of the control plane: a rotation or move recorded just before a kill lost its notice,
    // so the linked services are refreshed from the credentials as stored (a refresh that changes nothing
    // makes no release).
    if (!this.announced.has(key)) {
      this.announced.add(key);
      await this.notifyCredentials(ready, 'credentials changed');
    }

    await this.reconcileReplicas(ready, engine, observed);
    await this.backups.run(ready, engine);
    return { againInMs: 5000 };
  }

  private async notifyCredentials(a: AddonRecord, change: string): Promise<void> {
    await this.opts.credentialsChanged?.(a.projectId, a.id, change).catch((err: unknown) => this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), err: (err as Error).message }, 'services linked to the addon could not be given its new credentials'));
  }

  private async setStatus(a: AddonRecord, status: AddonRecord['status'], message?: string): Promise<void> {
    if (a.status === status && a.statusMessage === message) return;
    await this.store.addons.mutate(a.projectId, a.id, () => ({ status, statusMessage: message }));
  }

  private async remove(key: string, a: AddonRecord | undefined, observed: ObservedInstance[]): Promise<PassResult> {
    const { projectId, addonId } = parseAddonKey(key);
    // Stop first: the data is removed only once no server can write it.
    for (const inst of observed) await this.driver.stop(inst.id, this.grace());
    if (!a) return;
    // Backups stored on backup destinations go with the addon, as the local ones do.
    for (const b of await this.store.addons.listBackups(projectId, addonId, { limit: 100_000 })) {
      await this.files.remove(b).catch((err: Error) => this.opts.logger.warn({ addon: key, backup: b.id, err: err.message }, 'a backup of the deleted addon could not be removed from its destination'));
    }
    // Container runtimes keep an engine volume per server (bound to its data directory): forgotten first.
    for (let ordinal = 0; ordinal < Math.max(a.spec.billing.replicas, a.replicaPorts.length + 1); ordinal++) await this.driver.removeVolume?.(addonVolumeName(projectId, addonId, ordinal));
    fs.rmSync(addonDir(this.opts.dataDir, projectId, addonId), { recursive: true, force: true });
    await this.store.addons.delete(projectId, addonId);
    this.failures.delete(key);
    this.opts.logger.info({ addon: key }, 'addon deleted: server stopped, data and backups removed');
  }

  private async onExit(key: string, a: AddonRecord, inst: ObservedInstance): Promise<PassResult> {
    // A stop another control plane began and did not see through: no failure, and no back-off.
    if (inst.reason === STOPPED) {
      await this.driver.remove(inst.id);
      this.opts.logger.info({ addon: key }, 'addon server stopped by an earlier control plane: removed');
      return { againInMs: 0 };
    }
    const tail: string[] = [];
    for await (const l of this.driver.logs(inst.id, { tail: 5 })) tail.push(l.line);
    await this.driver.remove(inst.id);
    const f = this.failures.get(key) ?? { count: 0, notBefore: 0 };
    f.count++;
    const backoffMs = Math.min(60_000, 500 * 2 ** Math.min(f.count, 7));
    f.notBefore = Date.now() + backoffMs;
    this.failures.set(key, f);
    const why = inst.reason ?? (inst.signal ? `signal ${inst.signal}` : `exit code ${inst.exitCode}`);
    await this.setStatus(a, a.initialized ? 'error' : 'errorAllocating', `the server stopped (${why}); restarting in ${Math.round(backoffMs / 1000)} s. Last output: ${tail.join(' | ').slice(-600)}`);
    this.opts.logger.warn({ addon: key, reason: why, restarts: f.count }, 'addon server exited');
    return { againInMs: backoffMs };
  }

  private async startServer(key: string, a: AddonRecord, engine: AddonEngine): Promise<PassResult> {
    const f = this.failures.get(key);
    if (f && f.notBefore > Date.now()) return { againInMs: f.notBefore - Date.now() };
    // The port stays the addon's while it is free; taken by something else meanwhile, the addon moves.
    if (!(await portFree('127.0.0.1', a.port))) {
      const port = await pickPort(new Set(await this.store.addons.ports()));
      this.opts.logger.warn({ addon: key, was: a.port, now: port }, 'addon port taken by another process: moving');
      await this.store.addons.mutate(a.projectId, a.id, () => ({ port }));
      await this.notifyCredentials(a, `moved to port ${port}`);
      return { againInMs: 0 };
    }
    await this.launch(a, engine);
    if (a.status !== 'upgrading') await this.setStatus(a, 'allocating', a.status === 'error' || a.status === 'errorAllocating' ? a.statusMessage : undefined);
    return { againInMs: 300 };
  }

  /** Write the server's files and start its instance (resolves once launched, not once it answers). */
  private async launch(a: AddonRecord, engine: AddonEngine, replica?: { ordinal: number; ctx: EngineContext }): Promise<void> {
    const ctx = replica?.ctx ?? (await this.context(a));
    fs.mkdirSync(ctx.dataDir, { recursive: true, mode: 0o700 });
    if (this.opts.user.drop) fs.chownSync(ctx.dataDir, this.opts.user.uid, this.opts.user.gid);
    if (ctx.tls) installCertificate(await addonCertificate(addonDir(this.opts.dataDir, a.projectId, a.id), this.opts.domain ?? 'localhost'), ctx.dataDir, this.opts.user);
    await engine.prepare(ctx);
    const u = this.opts.user;
    const image = this.opts.images?.[a.spec.type];
    // An engine may open up the mode of a volume's directory when it mounts it: the server's user closes it again.
    const script = image ? `chmod 700 ${ctx.mountPath} 2>/dev/null || true\n${engine.script(ctx)}` : engine.script(ctx);
    if (this.opts.images && !image) throw new Error(`no image for ${a.spec.type} addons on this runtime`);
    // In a container the engine sets the user; on the process runtime the command drops to it.
    const command = u.drop && !image ? ['/usr/bin/setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', '--', '/bin/sh', '-c', script] : ['/bin/sh', '-c', script];
    const plan = findPlan(a.spec.billing.deploymentPlan);
    await this.driver.start({
      ...(image ? { image, user: `${u.uid}:${u.gid}`, hostNetwork: true } : {}),
      id: addonInstanceId(a.projectId, a.id, replica?.ordinal ?? 0),
      labels: { project: a.projectId, service: a.id, release: replica ? this.replicaReleaseOf(a, replica.ordinal) : this.releaseOf(a), processType: ADDON_PROCESS_TYPE },
      command,
      workDir: ctx.mountPath,
      env: { HOME: ctx.mountPath, TMPDIR: `${ctx.mountPath}/tmp`, SLIPWAY_PROJECT: a.projectId, SLIPWAY_ADDON: a.id },
      files: [],
      ports: [],
      volumes: [{ name: addonVolumeName(a.projectId, a.id, replica?.ordinal ?? 0), hostPath: ctx.dataDir, mountPath: ctx.mountPath, sizeMb: a.spec.billing.storage }],
      ...(plan ? { memoryMb: plan.memoryMb, cpu: plan.cpu } : {}),
    });
  }

  /** Start the server and wait until it answers (for restores that swap data while it is down). */
  private async startAndWait(a: AddonRecord, engine: AddonEngine, formerLogin?: AddonLogin): Promise<void> {
    await this.launch(a, engine);
    const ctx = await this.context(a);
    const changed = formerLogin && (formerLogin.password !== ctx.secrets.password || formerLogin.username !== ctx.secrets.username);
    const former = changed ? { ...ctx, secrets: formerLogin } : undefined;
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    while (Date.now() < deadline) {
      const inst = (await this.observed(a.projectId, a.id)).find((i) => i.id === addonInstanceId(a.projectId, a.id));
      if (!inst || inst.state === 'exited') {
        if (inst) await this.driver.remove(inst.id);
        throw new Error('the server stopped before it answered');
      }
      if (await engine.ping(ctx)) {
        await engine.afterReady(ctx);
        return;
      }
      // Restored data files may still know the login of their moment: set today's with it, retire that one.
      if (former && (await engine.ping(former))) {
        await engine.addLogin(former, ctx.secrets);
        if (former.secrets.username !== ctx.secrets.username) await engine.retireLogin(ctx, former.secrets);
        continue;
      }
      await sleep(300);
    }
    throw new Error('the server did not answer in time');
  }
}
