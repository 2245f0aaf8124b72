import { useState, type FormEvent } from 'react';
import { del, get, paths, post } from '../../api.ts';
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
  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const url = String(f.get('url'));
    const user = String(f.get('user') ?? '');
    const secret = String(f.get('secret') ?? '');
    const sinkData =
      type === 'loki'
        ? { endpoint: url, encoding: { codec: 'json' }, ...(secret ? { auth: { strategy: 'basic', user, password: secret } } : {}) }
        : { uri: url, encoding: { codec: 'json' }, auth: secret ? { strategy: 'bearer', token: secret } : { strategy: 'none' } };
    const form = e.currentTarget;
    void act(async () => {
      await post(paths.createLogSink(), { name: String(f.get('name')), sinkType: type, sinkData });
      form.reset();
    });
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
                <button type="button" className="small danger" onClick={() => confirm(`Delete the log sink ${s.name}?`) && act(() => del(paths.logSink(s.id)))}>
                  Delete {s.name}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {sinks.data?.length === 0 && <p className="muted">No log sinks yet.</p>}
      </div>
      <form onSubmit={create} className="panel actions" aria-labelledby="add-sink-h">
        <h2 id="add-sink-h">Add a log sink</h2>
        <label>
          Name <input name="name" required minLength={3} maxLength={39} />
        </label>
        <label>
          Type{' '}
          <select value={type} onChange={(e) => setType(e.target.value as 'loki' | 'http')}>
            <option value="loki">Loki (push API)</option>
            <option value="http">HTTP</option>
          </select>
        </label>
        <label>
          {type === 'loki' ? 'Loki URL' : 'URI'} <input name="url" type="url" required placeholder={type === 'loki' ? 'https://loki.example.com' : 'https://logs.example.com/ingest'} />
        </label>
        {type === 'loki' && (
          <label>
            User <input name="user" autoComplete="off" />
          </label>
        )}
        <label>
          {type === 'loki' ? 'Password' : 'Bearer token'} <input name="secret" type="password" autoComplete="new-password" />
        </label>
        <button type="submit">Add sink</button>
      </form>
    </section>
  );
}
