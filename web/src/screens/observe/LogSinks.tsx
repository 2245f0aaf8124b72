import { useState } from 'react';
import { get, paths, post } from '../../api.ts';
import { ConfirmButton, EmptyState, Form, SecretField, SelectField, send, TextField } from '../../components/index.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, StatusBadge, When } from '../../ui.tsx';

interface Sink {
  id: string;
  name: string;
  sinkType: string;
  status: string;
  restricted: boolean;
  projects: string[];
  sinkData: { endpoint?: string; uri?: string; auth?: { strategy?: string; user?: string } };
  delivery: { sentLines: number; droppedLines: number; bufferedLines: number; lastError: string | null; lastSentAt: string | null };
}

/** Log sinks: where every service line is shipped (Loki, HTTP), with their delivery counters. */
export function LogSinks() {
  const sinks = usePoll((signal) => get<{ data: { logSinks: Sink[] } }>(paths.logSinks(), signal).then((r) => r.data.logSinks), [], 3000);
  const [error, setError] = useState<string>();
  const [type, setType] = useState<'loki' | 'http'>('loki');
  const act = async (fn: () => Promise<unknown>) => {
    try {
      setError(undefined);
      await fn();
      sinks.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [user, setUser] = useState('');
  const [secret, setSecret] = useState('');
  const create = async () => {
    const sinkData =
      type === 'loki'
        ? { endpoint: url, encoding: { codec: 'json' }, ...(secret ? { auth: { strategy: 'basic', user, password: secret } } : {}) }
        : { uri: url, encoding: { codec: 'json' }, auth: secret ? { strategy: 'bearer', token: secret } : { strategy: 'none' } };
    await send('POST', paths.createLogSink(), { name, sinkType: type, sinkData });
  };
  const created = () => {
    setName('');
    setUrl('');
    setUser('');
    setSecret('');
    sinks.reload();
  };
  return (
    <section aria-labelledby="sinks-h">
      <h1 id="sinks-h" tabIndex={-1}>
        Log sinks
      </h1>
      <p className="muted">Every line of every service (or of the projects a sink is limited to) is shipped to each running sink. A sink that cannot reach its receiver keeps the newest lines and retries.</p>
      <Problem error={error ?? sinks.error} />
      <div className="panel">
      <table className="rows" aria-label="Log sinks">
        <thead>
          <tr>
            <th scope="col">Sink</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Sent</th>
            <th scope="col">Dropped</th>
            <th scope="col">Buffered</th>
            <th scope="col">Last sent</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(sinks.data ?? []).map((s) => (
            <tr key={s.id}>
              <th scope="row">
                {s.name}
                <div className="muted">{s.sinkData.endpoint ?? s.sinkData.uri}</div>
                {s.delivery.lastError && <div className="error">{s.delivery.lastError}</div>}
              </th>
              <td>{s.sinkType}</td>
              <td>
                <StatusBadge status={s.status === 'failing' ? 'failed' : s.status === 'running' ? 'completed' : s.status} label={s.status} />
              </td>
              <td>{s.delivery.sentLines}</td>
              <td>{s.delivery.droppedLines}</td>
              <td>{s.delivery.bufferedLines}</td>
              <td>
                <When at={s.delivery.lastSentAt} />
              </td>
              <td>
                <button type="button" className="small" onClick={() => act(() => post(paths.logSink(s.id, s.status === 'paused' ? 'resume' : 'pause')))}>
                  {s.status === 'paused' ? 'Resume' : 'Pause'} {s.name}
                </button>{' '}
                <ConfirmButton small danger label={`Delete ${s.name}`} title={`Delete the log sink ${s.name}?`} onConfirm={() => send('DELETE', paths.logSink(s.id))} onDone={sinks.reload}>
                  Lines stop being shipped to it; what it already received stays there.
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {sinks.data?.length === 0 && <EmptyState title="No log sinks yet">Add one below to ship every service's lines to Loki or an HTTP endpoint.</EmptyState>}
      </div>
      <div className="panel" role="region" aria-labelledby="add-sink-h">
        <h2 id="add-sink-h">Add a log sink</h2>
        <Form submit="Add sink" label="Add a log sink" onSubmit={create} onDone={created}>
          <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-39 characters" />
          <SelectField field="sinkType" label="Type" value={type} onChange={setType} options={[{ value: 'loki', label: 'Loki (push API)' }, { value: 'http', label: 'HTTP' }]} />
          <TextField field={type === 'loki' ? 'sinkData.endpoint' : 'sinkData.uri'} label={type === 'loki' ? 'Loki URL' : 'URI'} type="url" value={url} onChange={setUrl} required placeholder={type === 'loki' ? 'https://loki.example.com' : 'https://logs.example.com/ingest'} />
          {type === 'loki' && <TextField field="sinkData.auth.user" label="User" value={user} onChange={setUser} autoComplete="off" />}
          <SecretField field={type === 'loki' ? 'sinkData.auth.password' : 'sinkData.auth.token'} label={type === 'loki' ? 'Password' : 'Bearer token'} value={secret} onChange={setSecret} />
        </Form>
      </div>
    </section>
  );
}
