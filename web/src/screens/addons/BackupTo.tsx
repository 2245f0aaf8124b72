import { get } from '../../api.ts';
import { usePoll } from '../../hooks.ts';

interface Destination {
  id: string;
  name: string;
  credentials: { bucketName: string };
}

/**
 * Where "Back up now" writes the backup: the data directory, or one of the backup destinations (S3 buckets).
 * Destinations are an admin's: a token that may not list them sees no choice.
 */
export function BackupTo({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const dests = usePoll((signal) => get<{ data: { backupDestinations: Destination[] } }>('/v1/backup-destinations?per_page=100', signal).then((r) => r.data.backupDestinations).catch(() => [] as Destination[]), [], 0);
  if (!dests.data?.length) return null;
  return (
    <label>
      Back up to{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">the data directory</option>
        {dests.data.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name} (bucket {d.credentials.bucketName})
          </option>
        ))}
      </select>
    </label>
  );
}

/** Where a backup is stored, for the backups table. */
export function storedAt(b: { customDestinationId?: string }): string {
  return b.customDestinationId ? `destination ${b.customDestinationId}` : 'data directory';
}
