/** Small shared pieces: error notes, status badges, relative times. */

export function Problem({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}

const TONE: Record<string, string> = {
  COMPLETED: 'ok',
  SUCCESS: 'ok',
  ready: 'ok',
  IN_PROGRESS: 'busy',
  PENDING: 'busy',
  QUEUED: 'busy',
  BUILDING: 'busy',
  starting: 'busy',
  running: 'busy',
  stopping: 'busy',
  FAILED: 'bad',
  FAILURE: 'bad',
  ABORTED: 'bad',
  CANCELLED: 'bad',
  crashed: 'bad',
  exited: 'bad',
  // addons, backups and restores (Northflank's words)
  completed: 'ok',
  allocating: 'busy',
  postDeployment: 'busy',
  upgrading: 'busy',
  restore: 'busy',
  'in-progress': 'busy',
  scheduled: 'busy',
  failed: 'bad',
  error: 'bad',
  errorAllocating: 'bad',
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return <span className={`badge ${TONE[status] ?? ''}`}>{label ?? status.replace(/_/g, ' ').toLowerCase()}</span>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={d.toISOString()} title={d.toLocaleString()}>
      {ago(d)}
    </time>
  );
}

function ago(d: Date): string {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return d.toLocaleDateString();
}
