/**
 * Zero-downtime credential rotation, one step per addon pass while the server answers:
 *
 *   next asked for → the server accepts the next login beside the current one (PostgreSQL and MariaDB: the
 *                    other of the addon's two users; Redis: a second password of `default`), replicas follow
 *                    it → the store promotes it, the replaced login becomes `retiring` → linked services roll
 *                    out with it (each with its own strategy)
 *   retiring       → kept valid while any instance of the project runs a release that carries its password;
 *                    once none does (or after `retireAfterMs`), it is retired on the server (no password, its
 *                    sessions ended) and dropped from the store
 *
 * A control plane killed between two steps redoes the step: adding a login is idempotent, and a next login
 * the server already accepts is only promoted.
 */
import type { Store } from '../store/store.ts';
import type { RuntimeDriver } from '../runtime/driver.ts';
import { ADDON_PROCESS_TYPE, addonKey, rotatedUsername, type AddonLogin, type AddonRecord, type AddonSecrets } from '../domain/addons.ts';
import type { AddonEngine, EngineContext } from './engines/engine.ts';

export interface RotationOptions {
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** tell what reads the credentials (linked services) that they changed */
  notify(a: AddonRecord, change: string): Promise<void>;
  /** contexts of the addon's running read replicas */
  replicas(a: AddonRecord): Promise<EngineContext[]>;
  /** how long a replaced login may stay valid waiting for instances still given it (default 30 min) */
  retireAfterMs?: number;
}

export class CredentialRotation {
  constructor(
    private readonly store: Store,
    private readonly driver: RuntimeDriver,
    private readonly opts: RotationOptions,
  ) {}

  /** The next step of a rotation in progress, if any; `ctx.secrets` is updated to what the store holds after. */
  async step(a: AddonRecord, engine: AddonEngine, ctx: EngineContext): Promise<void> {
    const s = ctx.secrets;
    // A rotation asked for before rotations changed logins: the same rotation, to the other login.
    const next = s.next ?? (s.nextPassword ? { username: rotatedUsername(a.spec.type, s.username), password: s.nextPassword } : undefined);
    if (next) await this.promote(a, engine, ctx, next);
    else if (s.retiring) await this.retire(a, engine, ctx, s.retiring);
  }

  private async promote(a: AddonRecord, engine: AddonEngine, ctx: EngineContext, next: AddonLogin): Promise<void> {
    const current = ctx.secrets;
    if (!(await engine.ping({ ...ctx, secrets: next }))) {
      if (!(await engine.ping(ctx))) return; // not up yet: the next pass tries again
      await engine.addLogin(ctx, next);
    }
    for (const r of await this.opts.replicas(a)) {
      try {
        if (engine.loginsPerServer) await engine.addLogin(r, next);
        await engine.followLogin?.(r, next);
      } catch (err) {
        this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), err: (err as Error).message }, 'a read replica could not be given the rotated login');
      }
    }
    const promoted: AddonSecrets = { username: next.username, password: next.password, retiring: { username: current.username, password: current.password, since: new Date().toISOString() } };
    await this.store.addons.setSecrets(a.projectId, a.id, promoted);
    ctx.secrets = promoted;
    this.opts.logger.info({ addon: addonKey(a.projectId, a.id) }, 'addon credentials rotated: the replaced login stays valid until no instance uses it');
    await this.opts.notify(a, 'credentials rotated');
  }

  private async retire(a: AddonRecord, engine: AddonEngine, ctx: EngineContext, old: AddonSecrets['retiring'] & object): Promise<void> {
    const waitedMs = Date.now() - Date.parse(old.since);
    const users = await this.instancesGiven(a.projectId, old.password);
    if (users.length && waitedMs < (this.opts.retireAfterMs ?? 30 * 60_000)) return;
    if (users.length) this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), instances: users }, 'retiring replaced addon credentials that instances still use: the wait for their rollout is over');
    const login = { username: old.username, password: old.password };
    await engine.retireLogin(ctx, login);
    if (engine.loginsPerServer) {
      for (const r of await this.opts.replicas(a)) await engine.retireLogin(r, login).catch((err: unknown) => this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), err: (err as Error).message }, 'a read replica could not retire the replaced login'));
    }
    const kept: AddonSecrets = { username: ctx.secrets.username, password: ctx.secrets.password };
    await this.store.addons.setSecrets(a.projectId, a.id, kept);
    ctx.secrets = kept;
    this.opts.logger.info({ addon: addonKey(a.projectId, a.id) }, 'replaced addon credentials retired');
  }

  /** The running instances of the project whose release carries `password` (in a variable or a file). */
  private async instancesGiven(projectId: string, password: string): Promise<string[]> {
    const found: string[] = [];
    const carries = new Map<string, boolean>();
    for (const i of await this.driver.list()) {
      if (i.labels.project !== projectId || i.labels.processType === ADDON_PROCESS_TYPE || i.state === 'exited' || !i.labels.release) continue;
      let yes = carries.get(i.labels.release);
      if (yes === undefined) {
        const rel = await this.store.releases.find(i.labels.release);
        yes = !!rel && JSON.stringify([rel.spec.env, rel.spec.files]).includes(password);
        carries.set(i.labels.release, yes);
      }
      if (yes) found.push(i.id);
    }
    return found;
  }
}
