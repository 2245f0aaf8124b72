import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

/** The open fields of a notification integration, as Northflank's API carries them. */
export interface NotificationSpec {
  restricted: boolean;
  projects: string[];
  restrictions?: unknown;
  events: Record<string, boolean>;
}

export interface NotificationRecord {
  id: string;
  name: string;
  type: string;
  webhook: string;
  /** opened from its seal; never answered */
  secret: string | null;
  spec: NotificationSpec;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryRecord {
  id: string;
  notificationId: string;
  eventType: string;
  projectId: string | null;
  payload: { event: string; data: Record<string, unknown> };
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface UptimeCheckSpec {
  serviceId: string;
  /** the public port's name (p01…) */
  port: string;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  notificationIds: string[];
}

export interface UptimeCheckRecord {
  projectId: string;
  id: string;
  spec: UptimeCheckSpec;
  state: 'unknown' | 'up' | 'down';
  consecutiveFailures: number;
  lastCheckedAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Notification integrations (secrets sealed), the alert outbox and its history, event cursors, uptime checks. */
export class AlertsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private notification(r: Database['notification_integrations']): NotificationRecord {
    return { id: r.id, name: r.name, type: r.type, webhook: r.webhook, secret: r.secret ? this.box.open<string>(r.secret) : null, spec: JSON.parse(r.spec) as NotificationSpec, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  async createNotification(n: Omit<NotificationRecord, 'createdAt' | 'updatedAt'>): Promise<NotificationRecord> {
    const now = new Date().toISOString();
    try {
      await this.db
        .insertInto('notification_integrations')
        .values({ id: n.id, name: n.name, type: n.type, webhook: n.webhook, secret: n.secret ? this.box.seal(n.secret) : null, spec: JSON.stringify(n.spec), created_at: now, updated_at: now })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`name: a notification integration named '${n.name}' already exists`);
      throw err;
    }
    return this.getNotification(n.id);
  }

  async findNotification(id: string): Promise<NotificationRecord | undefined> {
    const r = await this.db.selectFrom('notification_integrations').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.notification(r) : undefined;
  }

  async getNotification(id: string): Promise<NotificationRecord> {
    const r = await this.findNotification(id);
    if (!r) throw new NotFoundError('notification integration', id);
    return r;
  }

  async listNotifications(): Promise<NotificationRecord[]> {
    return (await this.db.selectFrom('notification_integrations').selectAll().orderBy('id').execute()).map((r) => this.notification(r));
  }

  async updateNotification(id: string, n: { name: string; webhook: string; secret: string | null; spec: NotificationSpec }): Promise<NotificationRecord> {
    try {
      const res = await this.db
        .updateTable('notification_integrations')
        .set({ name: n.name, webhook: n.webhook, secret: n.secret ? this.box.seal(n.secret) : null, spec: JSON.stringify(n.spec), updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new NotFoundError('notification integration', id);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`name: a notification integration named '${n.name}' already exists`);
      throw err;
    }
    return this.getNotification(id);
  }

  /** Deletes the integration and its delivery history. */
  async deleteNotification(id: string): Promise<void> {
    const res = await this.db.deleteFrom('notification_integrations').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('notification integration', id);
    await this.db.deleteFrom('alert_deliveries').where('notification_id', '=', id).execute();
  }

  private delivery(r: Database['alert_deliveries']): DeliveryRecord {
    return {
      id: r.id,
      notificationId: r.notification_id,
      eventType: r.event_type,
      projectId: r.project_id,
      payload: JSON.parse(r.payload) as DeliveryRecord['payload'],
      status: r.status as DeliveryRecord['status'],
      attempts: Number(r.attempts),
      nextAttemptAt: r.next_attempt_at,
      lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
      lastError: r.last_error,
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
    };
  }

  async enqueueDelivery(d: { id: string; notificationId: string; eventType: string; projectId: string | null; payload: DeliveryRecord['payload'] }): Promise<void> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('alert_deliveries')
      .values({ id: d.id, notification_id: d.notificationId, event_type: d.eventType, project_id: d.projectId, payload: JSON.stringify(d.payload), status: 'pending', attempts: 0, next_attempt_at: now, last_status_code: null, last_error: null, created_at: now, delivered_at: null })
      .execute();
  }

  async dueDeliveries(now: string, limit: number): Promise<DeliveryRecord[]> {
    return (await this.db.selectFrom('alert_deliveries').selectAll().where('status', '=', 'pending').where('next_attempt_at', '<=', now).orderBy('created_at').limit(limit).execute()).map((r) => this.delivery(r));
  }

  async recordAttempt(id: string, r: { status: DeliveryRecord['status']; attempts: number; nextAttemptAt: string; lastStatusCode: number | null; lastError: string | null; deliveredAt: string | null }): Promise<void> {
    await this.db
      .updateTable('alert_deliveries')
      .set({ status: r.status, attempts: r.attempts, next_attempt_at: r.nextAttemptAt, last_status_code: r.lastStatusCode, last_error: r.lastError, delivered_at: r.deliveredAt })
      .where('id', '=', id)
      .execute();
  }

  async listDeliveries(notificationId: string, limit: number): Promise<DeliveryRecord[]> {
    return (await this.db.selectFrom('alert_deliveries').selectAll().where('notification_id', '=', notificationId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map((r) => this.delivery(r));
  }

  async cursor(name: string): Promise<number | undefined> {
    const r = await this.db.selectFrom('alert_cursors').select('value').where('name', '=', name).executeTakeFirst();
    return r ? Number(r.value) : undefined;
  }

  async setCursor(name: string, value: number): Promise<void> {
    const res = await this.db.updateTable('alert_cursors').set({ value }).where('name', '=', name).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) await this.db.insertInto('alert_cursors').values({ name, value }).execute();
  }

  /** Events after `afterId`, oldest first, of every project. */
  async eventsAfter(afterId: number, limit: number): Promise<{ id: number; projectId: string; serviceId: string | null; kind: string; reason: string; message: string; createdAt: string }[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), projectId: r.project_id, serviceId: r.service_id, kind: r.kind, reason: r.reason, message: r.message, createdAt: r.created_at }));
  }

  async lastEventId(): Promise<number> {
    const r = await this.db.selectFrom('events').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
    return Number(r?.max ?? 0);
  }

  private check(r: Database['uptime_checks']): UptimeCheckRecord {
    return {
      projectId: r.project_id,
      id: r.id,
      spec: JSON.parse(r.spec) as UptimeCheckSpec,
      state: r.state as UptimeCheckRecord['state'],
      consecutiveFailures: Number(r.consecutive_failures),
      lastCheckedAt: r.last_checked_at,
      lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
      lastError: r.last_error,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  async createCheck(projectId: string, id: string, spec: UptimeCheckSpec): Promise<UptimeCheckRecord> {
    const now = new Date().toISOString();
    try {
      await this.db
        .insertInto('uptime_checks')
        .values({ project_id: projectId, id, spec: JSON.stringify(spec), state: 'unknown', consecutive_failures: 0, last_checked_at: null, last_status_code: null, last_error: null, created_at: now, updated_at: now })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`id: an uptime check '${id}' already exists in project '${projectId}'`);
      throw err;
    }
    return this.getCheck(projectId, id);
  }

  async getCheck(projectId: string, id: string): Promise<UptimeCheckRecord> {
    const r = await this.db.selectFrom('uptime_checks').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError('uptime check', id);
    return this.check(r);
  }

  async listChecks(projectId?: string): Promise<UptimeCheckRecord[]> {
    let q = this.db.selectFrom('uptime_checks').selectAll().orderBy('project_id').orderBy('id');
    if (projectId) q = q.where('project_id', '=', projectId);
    return (await q.execute()).map((r) => this.check(r));
  }

  /** A new spec starts the check over (state unknown). */
  async updateCheckSpec(projectId: string, id: string, spec: UptimeCheckSpec): Promise<UptimeCheckRecord> {
    const res = await this.db
      .updateTable('uptime_checks')
      .set({ spec: JSON.stringify(spec), state: 'unknown', consecutive_failures: 0, updated_at: new Date().toISOString() })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new NotFoundError('uptime check', id);
    return this.getCheck(projectId, id);
  }

  async recordCheck(projectId: string, id: string, r: { state: UptimeCheckRecord['state']; consecutiveFailures: number; lastStatusCode: number | null; lastError: string | null }): Promise<void> {
    await this.db
      .updateTable('uptime_checks')
      .set({ state: r.state, consecutive_failures: r.consecutiveFailures, last_status_code: r.lastStatusCode, last_error: r.lastError, last_checked_at: new Date().toISOString() })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .execute();
  }

  async deleteCheck(projectId: string, id: string): Promise<void> {
    const res = await this.db.deleteFrom('uptime_checks').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('uptime check', id);
  }
}
