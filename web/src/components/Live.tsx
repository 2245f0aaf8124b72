/**
 * Live data without layout jumps.
 *
 *   <LiveStatus status="IN_PROGRESS" />            // a badge of fixed minimum width, tone by status
 *   <InstanceCount ready={2} wanted={3} />          // "2/3 ready", tabular digits
 *   <SecretValue name="API_KEY" value={v} />        // ••••••• until "Reveal API_KEY" is pressed
 *   useEventStream(path, (type, data) => …, [deps]) // SSE with the token (fetch, not EventSource);
 *                                                   // reconnects with Last-Event-ID after a drop
 *   <Panel title="Ports" id="ports">…</Panel>       // a labelled region (<section aria-labelledby>)
 *   <EmptyState title="No services yet" action={<Link …>Create a service</Link>}>what to do</EmptyState>
 *   <Reserve lines={3}>{data && …}</Reserve>        // keeps the room live data will take
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { sse } from './request.ts';
import './components.css';

const TONE: Record<string, string> = {
  COMPLETED: 'ok',
  SUCCESS: 'ok',
  ready: 'ok',
  RUNNING: 'busy',
  IN_PROGRESS: 'busy',
  PENDING: 'busy',
  QUEUED: 'busy',
  BUILDING: 'busy',
  STARTING: 'busy',
  FAILED: 'bad',
  FAILURE: 'bad',
  ABORTED: 'bad',
  CANCELED: 'bad',
  CANCELLED: 'bad',
  PAUSED: 'muted',
  SUSPENDED: 'muted',
};

export function LiveStatus({ status, label }: { status: string | undefined; label?: string }) {
  const s = status ?? '';
  return (
    <span className={`badge live ${TONE[s] ?? TONE[s.toUpperCase()] ?? ''}`} data-status={s}>
      {status === undefined ? '…' : (label ?? s.replace(/_/g, ' ').toLowerCase())}
    </span>
  );
}

export function InstanceCount({ ready, wanted }: { ready: number | undefined; wanted: number | undefined }) {
  return (
    <span className="count" aria-label={ready === undefined ? 'instances loading' : `${ready} of ${wanted} instances ready`}>
      {ready ?? '–'}/{wanted ?? '–'} ready
    </span>
  );
}

export function SecretValue({ name, value }: { name: string; value: string | null }) {
  const [shown, setShown] = useState(false);
  if (value === null) return <span className="muted">not readable with this token</span>;
  return (
    <span className="secret-value">
      {shown ? <code>{value}</code> : <span aria-label={`${name} hidden`}>••••••••</span>}{' '}
      <button type="button" className="link" aria-pressed={shown} aria-label={`${shown ? 'Hide' : 'Reveal'} ${name}`} onClick={() => setShown((s) => !s)}>
        {shown ? 'hide' : 'reveal'}
      </button>
    </span>
  );
}

export function Panel({ id, title, children, actions }: { id: string; title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section aria-labelledby={`${id}-h`} className="panel" id={id}>
      <div className="panel-head">
        <h2 id={`${id}-h`}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <p className="muted">{children}</p>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

export function Reserve({ lines, children }: { lines: number; children: ReactNode }) {
  return (
    <div className="reserve" style={{ minHeight: `${lines * 1.45}em` }}>
      {children}
    </div>
  );
}

/** Follows a Server-Sent Events stream while mounted; resumes after a drop with the last event id. */
export function useEventStream(path: string | undefined, onEvent: (type: string, data: string) => void, deps: unknown[] = []): { connected: boolean; error?: string } {
  const [state, setState] = useState<{ connected: boolean; error?: string }>({ connected: false });
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    let lastId: string | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      setState({ connected: true });
      sse(path, (type, data, id) => {
        if (id) lastId = id;
        handler.current(type, data);
      }, ctl.signal, lastId)
        .then(() => setState({ connected: false }))
        .catch((err: Error) => {
          if (ctl.signal.aborted) return;
          setState({ connected: false, error: err.message });
          retry = setTimeout(connect, 2000);
        });
    };
    connect();
    return () => {
      ctl.abort();
      clearTimeout(retry);
    };
  }, [path, ...deps]);
  return state;
}
