import { useState, type FormEvent } from 'react';
import { del, get, paths, post } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, StatusBadge, When } from '../../ui.tsx';

const EVENTS: [string, string][] = [
  ['trigger:service:deployment:status-update', 'Rollout failed or rolled back'],
  ['trigger:infrastructure:service:container-crash', 'Instance crash-looping or OOM-killed'],
  ['trigger:service:autoscaling:event', 'Autoscaled'],
  ['trigger:build:failure', 'Build failed'],
  ['trigger:addon-backup:failure', 'Backup failed'],
];

interface Integration {
  id: string;
  name: string;
  type: string;
  webhook: string;
  hasSecret: boolean;
  events: Record<string, boolean>;
  status: { numberOfFailedRequests: number };
}

interface Delivery {
  id: string;
  event: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
}

function Deliveries({ id }: { id: string }) {
  const list = usePoll((signal) => get<{ deliveries: Delivery[] }>(paths.deliveries(id), signal).then((r) => r.deliveries), [id], 5000);
  if (!list.data?.length) return <p className="muted">No alerts sent yet.</p>;
  return (
    <ul className="plain">
      {list.data.map((d) => (
        <li key={d.id}>
          <StatusBadge status={d.status === 'delivered' ? 'completed' : d.status === 'failed' ? 'failed' : 'in-progress'} label={d.status} /> {d.event} · {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
          {d.lastError ? ` · ${d.lastError}` : d.lastStatusCode ? ` · HTTP ${d.lastStatusCode}` : ''} · <When at={d.createdAt} />
        </li>
      ))}
    </ul>
  );
}

/** Notification integrations: webhooks that receive alerts, with what each was sent. */
export function Notifications() {
  const list = usePoll((signal) => get<{ data: { notificationIntegrations: Integration[] } }>(paths.notifications(), signal).then((r) => r.data.notificationIntegrations), [], 5000);
  const [error, setError] = useState<string>();
  const act = async (fn: () => Promise<unknown>) => {
    try {
      setError(undefined);
      await fn();
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const events = Object.fromEntries(EVENTS.filter(([k]) => f.get(k) === 'on').map(([k]) => [k, true]));
    const secret = String(f.get('secret') ?? '');
    void act(async () => {
      await post(paths.createNotification(), { name: String(f.get('name')), type: String(f.get('type')), webhook: String(f.get('webhook')), ...(secret ? { secret } : {}), events });
      form.reset();
    });
  };
  return (
    <section aria-labelledby="notifications-h">
      <h1 id="notifications-h" tabIndex={-1}>
        Notifications
      </h1>
      <p className="muted">Webhooks that receive alerts. A webhook with a secret gets it in X-Northflank-Notification-Integration-Token and an X-Slipway-Signature (HMAC-SHA256 of the body).</p>
      <Problem error={error ?? list.error} />
      {(list.data ?? []).map((n) => (
        <article key={n.id} className="panel" aria-labelledby={`n-${n.id}`}>
          <h2 id={`n-${n.id}`}>{n.name}</h2>
          <p>
            {n.type} → <code>{n.webhook}</code>
            {n.hasSecret ? ' · signed' : ''}
          </p>
          <p className="muted">{EVENTS.filter(([k]) => n.events[k]).map(([, label]) => label).join(' · ') || 'No events selected'}</p>
          <Deliveries id={n.id} />
          <button type="button" className="small danger" onClick={() => confirm(`Delete ${n.name}?`) && act(() => del(paths.notification(n.id)))}>
            Delete {n.name}
          </button>
        </article>
      ))}
      {list.data?.length === 0 && <p className="muted">No notification integrations yet.</p>}
      <form onSubmit={create} className="panel actions" aria-labelledby="add-hook-h">
        <h2 id="add-hook-h">Add a webhook</h2>
        <label>
          Name <input name="name" required minLength={3} maxLength={39} />
        </label>
        <label>
          Type{' '}
          <select name="type" defaultValue="RAW_WEBHOOK">
            <option value="RAW_WEBHOOK">Webhook</option>
            <option value="DISCORD">Discord</option>
            <option value="TEAMS">Teams</option>
            <option value="TEAMS_WORKFLOWS">Teams workflows</option>
          </select>
        </label>
        <label>
          Webhook URL <input name="webhook" type="url" required />
        </label>
        <label>
          Secret <input name="secret" type="password" autoComplete="new-password" />
        </label>
        <fieldset>
          <legend>Alert on</legend>
          {EVENTS.map(([k, label]) => (
            <label key={k} className="check">
              <input type="checkbox" name={k} defaultChecked /> {label}
            </label>
          ))}
        </fieldset>
        <button type="submit">Add webhook</button>
      </form>
    </section>
  );
}
