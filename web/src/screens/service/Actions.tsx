import { useState, type FormEvent } from 'react';
import { paths, post, type Service } from '../../api.ts';

/** Scale, restart, pause or resume, and roll out the newest release. Each reports in the page's status line. */
export function Actions({ project, service, onDone }: { project: string; service: Service; onDone: (message: string) => void }) {
  const [instances, setInstances] = useState(String(service.deployment?.instances ?? 1));
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const s = service.id;

  const act = async (what: string, call: () => Promise<unknown>, done: string) => {
    setBusy(what);
    setError(undefined);
    try {
      await call();
      onDone(done);
    } catch (err) {
      setError(`${what} failed: ${(err as Error).message}`);
    } finally {
      setBusy(undefined);
    }
  };

  const scale = (e: FormEvent) => {
    e.preventDefault();
    const n = Number(instances);
    void act('Scale', () => post(paths.action(project, s, 'scale'), { instances: n }), `Scaling to ${n} instance${n === 1 ? '' : 's'}.`);
  };

  return (
    <section aria-labelledby="actions-h" className="panel">
      <h2 id="actions-h">Actions</h2>
      <div className="actions">
        <form onSubmit={scale} className="inline">
          <label htmlFor="scale-n">Instances</label>
          <input id="scale-n" type="number" inputMode="numeric" min={0} max={20} required value={instances} onChange={(e) => setInstances(e.target.value)} />
          <button type="submit" disabled={busy !== undefined}>
            Scale
          </button>
        </form>
        <button type="button" disabled={busy !== undefined} onClick={() => act('Roll out', () => post(paths.rollouts(project, s), { strategy: 'rolling' }), 'Rolling out the newest release.')}>
          Roll out
        </button>
        <button type="button" disabled={busy !== undefined} onClick={() => act('Restart', () => post(paths.action(project, s, 'restart')), 'Restarting every instance.')}>
          Restart
        </button>
        {service.paused ? (
          <button type="button" disabled={busy !== undefined} onClick={() => act('Resume', () => post(paths.action(project, s, 'resume')), 'Resumed.')}>
            Resume
          </button>
        ) : (
          <button type="button" className="danger" disabled={busy !== undefined} onClick={() => act('Pause', () => post(paths.action(project, s, 'pause')), 'Paused: every instance stops.')}>
            Pause
          </button>
        )}
      </div>
      {busy && <p className="muted">{busy}…</p>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
