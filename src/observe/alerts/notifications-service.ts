/**
 * Notification integrations (Northflank's `/v1/integrations/notifications`): account-level webhooks that
 * receive alerts for the events they subscribe to, from every project or the `projects` they are restricted
 * to. Only an admin token reads or changes them; reads never carry the secret. Delivery history is read at
 * the native `GET /notifications/{id}/deliveries`.
 */
import type { AlertsRepo, DeliveryRecord, NotificationRecord, NotificationSpec } from '../../store/alerts-repo.ts';
import type { AuthService, Principal } from '../../services/auth.ts';
import { ValidationError, type FieldProblem } from '../../errors/errors.ts';
import { idFromName, RESOURCE_ID_PATTERN } from '../../domain/ids.ts';

export const NOTIFICATION_TYPES = ['RAW_WEBHOOK', 'DISCORD', 'TEAMS', 'TEAMS_WORKFLOWS'] as const;

export interface NotificationInput {
  name: string;
  type: string;
  webhook: string;
  secret?: string;
  restricted?: boolean;
  projects?: string[];
  restrictions?: unknown;
  events: Record<string, boolean>;
}

export type NotificationUpdate = Partial<Omit<NotificationInput, 'type'>>;

export interface NotificationView {
  id: string;
  name: string;
  type: string;
  webhook: string;
  status: { disabled: boolean; numberOfFailedRequests: number; timeOfFirstFailedRequest?: string };
  restricted: boolean;
  projects: string[];
  events: Record<string, boolean>;
  /** true when a secret is set (the secret itself is never answered) */
  hasSecret: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryView {
  id: string;
  event: string;
  projectId: string | null;
  status: DeliveryRecord['status'];
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  payload: DeliveryRecord['payload'];
}

const isHttpUrl = (u: string): boolean => {
  try {
    const p = new URL(u);
    return p.protocol === 'http:' || p.protocol === 'https:';
  } catch {
    return false;
  }
};

export class NotificationsService {
  constructor(
    private readonly repo: AlertsRepo,
    private readonly auth: AuthService,
  ) {}

  private admin(caller: Principal): void {
    this.auth.authorize(caller, null, 'own');
  }

  private problems(type: string, n: { webhook: string; secret?: string | null; events: Record<string, boolean> }): FieldProblem[] {
    const out: FieldProblem[] = [];
    if (!isHttpUrl(n.webhook)) out.push({ field: 'webhook', rule: 'format', message: 'an http:// or https:// URL' });
    if (n.secret && type !== 'RAW_WEBHOOK') out.push({ field: 'secret', rule: 'applicable', message: `only RAW_WEBHOOK integrations take a secret; ${type} does not` });
    for (const k of Object.keys(n.events)) if (!k.startsWith('trigger:')) out.push({ field: `events.${k}`, rule: 'pattern', message: "event names start with 'trigger:'" });
    return out;
  }

  async view(n: NotificationRecord): Promise<NotificationView> {
    const recent = await this.repo.listDeliveries(n.id, 50);
    const failedRun: DeliveryRecord[] = [];
    for (const d of recent) {
      if (d.status === 'delivered') break;
      if (d.status === 'failed' || d.attempts > 0) failedRun.push(d);
    }
    return {
      id: n.id,
      name: n.name,
      type: n.type,
      webhook: n.webhook,
      status: { disabled: false, numberOfFailedRequests: failedRun.reduce((s, d) => s + d.attempts, 0), ...(failedRun.length ? { timeOfFirstFailedRequest: failedRun.at(-1)!.createdAt } : {}) },
      restricted: n.spec.restricted,
      projects: n.spec.projects,
      events: n.spec.events,
      hasSecret: !!n.secret,
      createdAt: n.createdAt,
      updatedAt: n.updatedAt,
    };
  }

  async list(caller: Principal): Promise<NotificationView[]> {
    this.admin(caller);
    return Promise.all((await this.repo.listNotifications()).map((n) => this.view(n)));
  }

  async get(caller: Principal, id: string): Promise<NotificationView> {
    this.admin(caller);
    return this.view(await this.repo.getNotification(id));
  }

  async create(caller: Principal, input: NotificationInput): Promise<NotificationView> {
    this.admin(caller);
    const id = idFromName(input.name);
    if (!RESOURCE_ID_PATTERN.test(id)) throw ValidationError.one('name', 'pattern', 'letters, digits, spaces and single hyphens, starting with a letter');
    const problems = this.problems(input.type, input);
    if (problems.length) throw new ValidationError(problems);
    if (await this.repo.findNotification(id)) throw ValidationError.one('name', 'unique', `a notification integration named '${input.name}' already exists`);
    const spec: NotificationSpec = { restricted: input.restricted ?? false, projects: input.projects ?? [], events: input.events, ...(input.restrictions !== undefined ? { restrictions: input.restrictions } : {}) };
    return this.view(await this.repo.createNotification({ id, name: input.name, type: input.type, webhook: input.webhook, secret: input.secret || null, spec }));
  }

  /** Fields given replace the current ones; `events` are merged key by key; an empty `secret` removes it. */
  async update(caller: Principal, id: string, u: NotificationUpdate): Promise<NotificationView> {
    this.admin(caller);
    const cur = await this.repo.getNotification(id);
    const next = {
      name: u.name ?? cur.name,
      webhook: u.webhook ?? cur.webhook,
      secret: u.secret === undefined ? cur.secret : u.secret || null,
      spec: {
        ...cur.spec,
        ...(u.restricted !== undefined ? { restricted: u.restricted } : {}),
        ...(u.projects !== undefined ? { projects: u.projects } : {}),
        ...(u.restrictions !== undefined ? { restrictions: u.restrictions } : {}),
        events: { ...cur.spec.events, ...(u.events ?? {}) },
      },
    };
    const problems = this.problems(cur.type, { webhook: next.webhook, secret: u.secret, events: u.events ?? {} });
    if (problems.length) throw new ValidationError(problems);
    return this.view(await this.repo.updateNotification(id, next));
  }

  async delete(caller: Principal, id: string): Promise<void> {
    this.admin(caller);
    await this.repo.deleteNotification(id);
  }

  async deliveries(caller: Principal, id: string, limit: number): Promise<DeliveryView[]> {
    this.admin(caller);
    await this.repo.getNotification(id);
    return (await this.repo.listDeliveries(id, limit)).map((d) => ({
      id: d.id,
      event: d.payload.event,
      projectId: d.projectId,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
      lastStatusCode: d.lastStatusCode,
      lastError: d.lastError,
      createdAt: d.createdAt,
      deliveredAt: d.deliveredAt,
      payload: d.payload,
    }));
  }
}
