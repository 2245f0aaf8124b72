import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { get, paths, type LogLine } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';

/** The last 200 lines of every instance, followed live (polled) and filtered by a search. */
export function Logs({ project, service }: { project: string; service: string }) {
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const logs = usePoll((signal) => get<{ lines: LogLine[] }>(paths.logs(project, service), signal).then((r) => r.lines), [project, service], follow ? 2000 : 0);
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  const q = query.trim().toLowerCase();
  const lines = (logs.data ?? []).filter((l) => !q || l.line.toLowerCase().includes(q) || l.instance.toLowerCase().includes(q));

  // Keep the newest line in view while the reader is at the bottom; leave them be when they scrolled up.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [logs.data, q]);
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
        {!follow && (
          <button type="button" className="small" onClick={logs.reload}>
            Refresh
          </button>
        )}
      </div>
      <Problem error={logs.error} />
      <p className="muted" aria-live="polite">
        {logs.data ? `${lines.length} of ${logs.data.length} lines${q ? ` match “${query.trim()}”` : ''}` : 'Loading…'}
      </p>
      <div ref={box} className="log" role="log" aria-label="Service logs" tabIndex={0}>
        {lines.map((l, i) => (
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
