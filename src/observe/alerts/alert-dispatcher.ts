/**
 * Turns events into alerts and delivers them. Two loops over the store, so nothing lives only in memory:
 *
 *   events ──(cursor `events`)──► alertOf() ──► one pending delivery per matching integration
 *   pending deliveries that are due ──► POST to the webhook ──► delivered | retried with back-off | failed
 *
 * The cursor starts at the newest event when the dispatcher first runs (history is not alerted). A failed
 * attempt (no answer, or a status other than 2xx) is retried after 1 s, 2 s, 4 s … capped at 60 s, up to
 * MAX_ATTEMPTS attempts, then the delivery is `failed`. Every attempt is recorded on the delivery.
 */
import type { Logger } from 'pino';
import type { AlertsRepo, DeliveryRecord, NotificationRecord } from '../../store/alerts-repo.ts';
import { randomId } from '../../domain/ids.ts';
import { alertOf } from './alert-events.ts';
import { webhookRequest } from './webhook-request.ts';

export const MAX_ATTEMPTS = 8;
const TICK_MS = 500;
const SEND_TIMEOUT_MS = 10_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

export class AlertDispatcher {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly repo: AlertsRepo,
    private readonly opts: { logger: Logger },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    if ((await this.repo.cursor('events')) === undefined) await this.repo.setCursor('events', await this.repo.lastEventId());
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
  }

  /** Queue an alert for the named integrations (uptime checks name theirs). */
  async alert(notificationIds: string[], projectId: string | null, payload: DeliveryRecord['payload']): Promise<void> {
    for (const id of notificationIds) {
      if (!(await this.repo.findNotification(id))) continue;
      await this.repo.enqueueDelivery({ id: randomId('delivery'), notificationId: id, eventType: payload.event, projectId, payload });
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.readEvents();
      await this.deliverDue();
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'alert pass failed');
    } finally {
      this.busy = false;
    }
  }

  private async readEvents(): Promise<void> {
    const after = (await this.repo.cursor('events')) ?? 0;
    const events = await this.repo.eventsAfter(after, 200);
    if (!events.length) return;
    const integrations = await this.repo.listNotifications();
    for (const e of events) {
      const a = alertOf(e);
      if (!a) continue;
      for (const n of integrations) {
        if (!subscribes(n, a.trigger, e.projectId)) continue;
        await this.repo.enqueueDelivery({ id: randomId('delivery'), notificationId: n.id, eventType: a.event, projectId: e.projectId, payload: { event: a.event, data: a.data } });
      }
    }
    await this.repo.setCursor('events', events.at(-1)!.id);
  }

  private async deliverDue(): Promise<void> {
    const due = await this.repo.dueDeliveries(new Date().toISOString(), 20);
    await Promise.all(due.map((d) => this.deliver(d)));
  }

  private async deliver(d: DeliveryRecord): Promise<void> {
    const n = await this.repo.findNotification(d.notificationId);
    if (!n) return;
    const req = webhookRequest(n, d, d.payload);
    let code: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(n.webhook, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
      code = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `the webhook answered HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      error = `could not reach the webhook: ${cause?.code ?? (err as Error).message}`;
    }
    const attempts = d.attempts + 1;
    const now = new Date();
    if (!error) {
      await this.repo.recordAttempt(d.id, { status: 'delivered', attempts, nextAttemptAt: now.toISOString(), lastStatusCode: code, lastError: null, deliveredAt: now.toISOString() });
      return;
    }
    const failed = attempts >= MAX_ATTEMPTS;
    await this.repo.recordAttempt(d.id, { status: failed ? 'failed' : 'pending', attempts, nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)).toISOString(), lastStatusCode: code, lastError: error, deliveredAt: null });
    if (failed) this.opts.logger.warn({ notification: n.id, delivery: d.id, error }, 'alert not delivered');
  }
}

function subscribes(n: NotificationRecord, trigger: string, projectId: string): boolean {
  if (n.spec.events[trigger] !== true) return false;
  return !n.spec.restricted || n.spec.projects.includes(projectId);
}
