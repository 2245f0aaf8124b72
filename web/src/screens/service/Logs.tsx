import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { stream, paths, type LogLine } from '../../api.ts';
import { Problem } from '../../ui.tsx';

const KEEP = 2000;

/**
 * Every instance's output, streamed live (Server-Sent Events from `…/logs/stream`): the newest 200 lines that
 * match the search, then each new one as it is written. The search filters the view at once, then runs on the
 * server over the kept logs (the stream starts again with its matches); a paused view keeps what it shows.
 */
export function Logs({ project, service }: { project: string; service: string }) {
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState('');
  const [lines, setLines] = useState<LogLine[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [live, setLive] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  // The search reaches the server once typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setSearch(query.trim()), 300);
    return () => clearTimeout(t);
  }, [query]);

  useEffect(() => {
    if (!follow) return;
    const abort = new AbortController();
    let pending: LogLine[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    // Lines arrive in bursts: they are added to the view at most every 100 ms.
    const flush = () => {
      flushTimer = undefined;
      const add = pending;
      pending = [];
      setLines((cur) => [...(cur ?? []), ...add].slice(-KEEP));
    };
    setLines([]);
    setError(undefined);
    const connect = async (attempt: number): Promise<void> => {
      try {
        setLive(true);
        await stream(paths.logStream(project, service, search), (type, data) => {
          if (type !== 'line') return;
          pending.push(JSON.parse(data) as LogLine);
          flushTimer ??= setTimeout(flush, 100);
        }, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        setError((err as Error).message);
        if ((err as { status?: number }).status && (err as { status: number }).status < 500) return setLive(false);
      }
      if (abort.signal.aborted) return;
      setLive(false);
      // The stream dropped (the platform restarted, the network blinked): start again with a fresh backlog.
      await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * 2 ** attempt)));
      if (abort.signal.aborted) return;
      pending = [];
      setLines([]);
      return connect(attempt + 1);
    };
    void connect(0);
    return () => {
      abort.abort();
      if (flushTimer) clearTimeout(flushTimer);
      setLive(false);
    };
  }, [project, service, search, follow]);

  // The search filters what is shown at once; the stream then starts again with the server's matches.
  const q = query.trim().toLowerCase();
  const shown = (lines ?? []).filter((l) => !q || l.line.toLowerCase().includes(q) || l.instance.toLowerCase().includes(q));

  // Keep the newest line in view while the reader is at the bottom; leave them be when they scrolled up.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines, q]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onScroll = () => (atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24);
    el.addEventListener('scroll', onScroll);
    return () => el.removeEventListener('scroll', onScroll);
  }, []);

  return (
    <section aria-labelledby="logs-h" className="panel">
      <h2 id="logs-h">Logs</h2>
      <div className="actions">
        <label htmlFor="log-search" className="sr-only">
          Search logs
        </label>
        <input id="log-search" type="search" placeholder="Search logs" value={query} onChange={(e) => setQuery(e.target.value)} />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Live tail
        </label>
      </div>
      <Problem error={error} />
      <p className="muted" aria-live="polite" data-testid="log-status">
        {lines ? `${shown.length} of ${lines.length} lines${q ? ` match “${query.trim()}”` : ''}${follow ? (live ? ' · streaming' : ' · reconnecting…') : ' · paused'}` : 'Loading…'}
      </p>
      <div ref={box} className="log" role="log" aria-label="Service logs" tabIndex={0}>
        {shown.map((l, i) => (
          <div key={`${l.ts}-${l.instance}-${i}`} className={l.stream === 'stderr' ? 'err' : undefined}>
            <span className="ts">{l.ts.slice(11, 19)}</span> <span className="inst">{shortId(l.instance)}</span> {l.line}
          </div>
        ))}
      </div>
    </section>
  );
}

/** Instance ids end with an ordinal and a hash: the tail is what tells them apart. */
function shortId(id: string): string {
  return id.length > 18 ? `…${id.slice(-16)}` : id;
}
