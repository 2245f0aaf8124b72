import { useState } from 'react';
import { get, paths } from '../../api.ts';
import { CheckboxField, ConfirmButton, EmptyState, Form, SecretField, SelectField, send, TextField } from '../../components/index.ts';
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
  const [name, setName] = useState('');
  const [type, setType] = useState('RAW_WEBHOOK');
  const [webhook, setWebhook] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<Record<string, boolean>>(() => Object.fromEntries(EVENTS.map(([k]) => [k, true])));
  const create = () => send('POST', paths.createNotification(), { name, type, webhook, ...(secret ? { secret } : {}), events: Object.fromEntries(Object.entries(events).filter(([, on]) => on)) });
  const created = () => {
    setName('');
    setWebhook('');
    setSecret('');
    list.reload();
  };
  return (
    <section aria-labelledby="notifications-h">
      <h1 id="notifications-h" tabIndex={-1}>
        Notifications
      </h1>
      <p className="muted">Webhooks that receive alerts. A webhook with a secret gets it in X-Northflank-Notification-Integration-Token and an X-Slipway-Signature (HMAC-SHA256 of the body).</p>
      <Problem error={list.error} />
      {(list.data ?? []).map((n) => (
        <article key={n.id} className="panel" aria-labelledby={`n-${n.id}`}>
          <h2 id={`n-${n.id}`}>{n.name}</h2>
          <p>
            {n.type} → <code>{n.webhook}</code>
            {n.hasSecret ? ' · signed' : ''}
          </p>
          <p className="muted">{EVENTS.filter(([k]) => n.events[k]).map(([, label]) => label).join(' · ') || 'No events selected'}</p>
          <Deliveries id={n.id} />
          <ConfirmButton small danger label={`Delete ${n.name}`} title={`Delete ${n.name}?`} onConfirm={() => send('DELETE', paths.notification(n.id))} onDone={list.reload}>
            It stops receiving alerts.
          </ConfirmButton>
        </article>
      ))}
      {list.data?.length === 0 && <EmptyState title="No notification integrations yet">Add a webhook below to be told when a rollout fails, an instance crashes or a backup fails.</EmptyState>}
      <div className="panel" role="region" aria-labelledby="add-hook-h">
        <h2 id="add-hook-h">Add a webhook</h2>
        <Form submit="Add webhook" label="Add a webhook" onSubmit={create} onDone={created}>
          <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-39 characters" />
          <SelectField field="type" label="Type" value={type} onChange={setType} options={[{ value: 'RAW_WEBHOOK', label: 'Webhook' }, { value: 'DISCORD', label: 'Discord' }, { value: 'TEAMS', label: 'Teams' }, { value: 'TEAMS_WORKFLOWS', label: 'Teams workflows' }]} />
          <TextField field="webhook" label="Webhook URL" type="url" value={webhook} onChange={setWebhook} required />
          <SecretField field="secret" label="Secret" value={secret} onChange={setSecret} hint="optional: sent with every alert and used to sign it" />
          <fieldset>
            <legend>Alert on</legend>
            {EVENTS.map(([k, label]) => (
              <CheckboxField key={k} field={`events.${k}`} label={label} checked={events[k] ?? false} onChange={(on) => setEvents((e) => ({ ...e, [k]: on }))} />
            ))}
          </fieldset>
        </Form>
      </div>
    </section>
  );
}
