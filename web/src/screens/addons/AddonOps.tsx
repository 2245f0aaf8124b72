import { useState } from 'react';
import { ConfirmButton } from '../../components/index.ts';
import { get, post, postFile } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';

const enc = encodeURIComponent;
const native = (p: string, a: string) => `/projects/${enc(p)}/addons/${enc(a)}/credentials`;
const ROTATION_WORDS: Record<string, string> = {
  idle: 'No rotation under way.',
  rotating: 'Rotating: the server is taking the new login.',
  retiring: 'Rotated: the old login keeps working until every service using it has rolled out, then it is retired.',
};

/**
 * An addon's credential rotation (zero downtime: linked services roll out before the old login is retired)
 * and an import from a dump's URL or an uploaded dump file, which replaces the addon's data (AddonPage shows
 * its backup and restore).
 */
export function AddonOps({ project, addon, paused, onChange }: { project: string; addon: string; paused: boolean; onChange: () => void }) {
  const rotation = usePoll((signal) => get<{ state: string }>(`${native(project, addon)}/rotation`, signal).then((r) => r.state), [project, addon], 2000);
  const [importUrl, setImportUrl] = useState('');
  const [dumpFile, setDumpFile] = useState<File>();
  const [fileInput, setFileInput] = useState(0);
  const [notice, setNotice] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);

  const act = async (what: string, path: string, body: unknown) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await post(path, body);
      setNotice(what);
      rotation.reload();
      onChange();
      return true;
    } catch (err) {
      setProblem((err as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const importPath = `/v1/projects/${enc(project)}/addons/${enc(addon)}/import`;
  const imported = () => {
    setNotice('Import scheduled: the download appears under Backups, then its restore.');
    setImportUrl('');
    rotation.reload();
    onChange();
  };
  const uploaded = () => {
    setNotice('Upload received and checked: it appears under Backups, then its restore.');
    setDumpFile(undefined);
    // A fresh input: the chosen file's name goes with it.
    setFileInput((n) => n + 1);
    rotation.reload();
    onChange();
  };
  return (
    <section aria-labelledby="addon-ops-h">
      <h2 id="addon-ops-h">Credentials and import</h2>
      <Problem error={rotation.error ?? problem} />
      <p role="status" className="notice">
        {notice}
      </p>
      <p>
        {ROTATION_WORDS[rotation.data ?? ''] ?? ''}{' '}
        <button type="button" disabled={busy || paused || rotation.data !== 'idle'} onClick={() => act('Rotation requested.', `${native(project, addon)}/rotate`, {})}>
          Rotate credentials
        </button>
      </p>
      <div className="actions">
        <label htmlFor="addon-import-url">Import a dump from a URL</label>{' '}
        <input id="addon-import-url" type="url" required placeholder="https://example.com/backup.dump.gz" value={importUrl} onChange={(e) => setImportUrl(e.target.value)} />{' '}
        <ConfirmButton label="Import" title={`Import ${importUrl}?`} disabled={busy || paused || !importUrl} onConfirm={() => post(importPath, { importUrl })} onDone={imported}>
          The addon's data becomes exactly the dump's.
        </ConfirmButton>
      </div>
      <div className="actions">
        <label htmlFor="addon-import-file">Import a dump file</label>{' '}
        <input key={fileInput} id="addon-import-file" type="file" accept=".gz,.dump,.pgdump,.sql,.rdb,application/gzip,application/octet-stream" onChange={(e) => setDumpFile(e.target.files?.[0])} />{' '}
        <ConfirmButton label="Upload and import" title={`Import ${dumpFile?.name ?? 'the file'}?`} disabled={busy || paused || !dumpFile} onConfirm={() => postFile(`${importPath}/upload`, dumpFile!)} onDone={uploaded}>
          The file (a dump of this addon's type, gzipped or not, up to its storage) is checked as it arrives; then the addon's data becomes exactly the dump's.
        </ConfirmButton>
      </div>
    </section>
  );
}
