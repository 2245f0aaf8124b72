import { useState } from 'react';
import { Field, Form, invalid, Panel, SecretField, send, TextAreaField } from '../../../components/index.ts';
import { svcPath, type Save, type ServiceView } from './types.ts';

interface Row {
  key: string;
  value: string;
  /** a value from the server, shown hidden until revealed */
  stored: boolean;
}

/** Parses `.env` text: KEY=value lines, `export ` prefixes, quotes, comments and blank lines. */
export function parseDotEnv(text: string): { vars: Record<string, string>; bad: number[] } {
  const vars: Record<string, string> = {};
  const bad: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) return void bad.push(i + 1);
    let v = m[2];
    if (/^"(.*)"$/.test(v)) v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
    else if (/^'(.*)'$/.test(v)) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    vars[m[1]] = v;
  });
  return { vars, bad };
}

/** The service's own variables: add, edit, remove, or paste a .env; values hidden until revealed. One save. */
export function EnvSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [rows, setRows] = useState<Row[]>(() => Object.entries(svc.runtimeEnvironment ?? {}).map(([key, value]) => ({ key, value, stored: true })));
  const [paste, setPaste] = useState('');
  const set = (i: number, patch: Partial<Row>) => setRows((r) => r.map((x, j) => (j === i ? { ...x, ...patch } : x)));

  const submit = async () => {
    const env: Record<string, string> = {};
    const fields: Record<string, string> = {};
    rows.forEach((r, i) => {
      if (!r.key.trim()) fields[`rows.${i}.key`] = 'a variable needs a name';
      else if (r.key.trim() in env) fields[`rows.${i}.key`] = `${r.key} is listed twice`;
      else env[r.key.trim()] = r.value;
    });
    if (paste.trim()) {
      const { vars, bad } = parseDotEnv(paste);
      if (bad.length) fields.paste = `line${bad.length > 1 ? 's' : ''} ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not KEY=value`;
      Object.assign(env, vars);
    }
    if (Object.keys(fields).length) throw invalid(fields);
    await save('Environment saved', () => send('POST', `${svcPath(project, svc.id)}/runtime-environment`, { runtimeEnvironment: env }));
    setRows(Object.entries(env).map(([key, value]) => ({ key, value, stored: true })));
    setPaste('');
  };

  return (
    <Panel id="env" title="Environment variables">
      <Form submit="Save variables" onSubmit={submit} label="Environment variables">
        {rows.length === 0 && <p className="muted">No variables of its own yet: add one, or paste a .env below.</p>}
        <ul className="plain env-rows">
          {rows.map((r, i) => (
            <li key={i} className="env-row">
              <Field field={`rows.${i}.key`} label={`Name of variable ${i + 1}`}>
                {(a) => <input {...a} value={r.key} spellCheck={false} autoComplete="off" onChange={(e) => set(i, { key: e.target.value })} />}
              </Field>
              <SecretField field={`runtimeEnvironment.${r.key || i}`} label={`Value of ${r.key || `variable ${i + 1}`}`} value={r.value} onChange={(v) => set(i, { value: v })} />
              <button type="button" className="small danger" onClick={() => setRows((x) => x.filter((_, j) => j !== i))} aria-label={`Remove ${r.key || `variable ${i + 1}`}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
        <div>
          <button type="button" className="secondary" onClick={() => setRows((r) => [...r, { key: '', value: '', stored: false }])}>
            Add variable
          </button>
        </div>
        <TextAreaField field="paste" label="Paste a .env (added to the list on save; a name already listed takes the pasted value)" value={paste} onChange={setPaste} rows={4} placeholder={'DATABASE_URL=postgres://…\nLOG_LEVEL=info'} />
      </Form>
    </Panel>
  );
}

/** Runtime files: a path and its content each; saved with the variables' update (one release). */
export function FileSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [files, setFiles] = useState(() => Object.entries(svc.runtimeFiles ?? {}).map(([path, f]) => ({ path, data: f.encoding === 'base64' ? '' : f.data, encoding: f.encoding, keep: f.encoding === 'base64' ? f.data : undefined })));
  const set = (i: number, patch: Partial<(typeof files)[number]>) => setFiles((r) => r.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const submit = async () => {
    const out: Record<string, { data: string; encoding?: string }> = {};
    const fields: Record<string, string> = {};
    files.forEach((f, i) => {
      if (!f.path.startsWith('/')) fields[`files.${i}.path`] = 'the path must be absolute (start with /)';
      out[f.path] = f.keep !== undefined && f.data === '' ? { data: f.keep, encoding: f.encoding } : { data: f.data };
    });
    if (Object.keys(fields).length) throw invalid(fields);
    await save('Runtime files saved', () => send('POST', `${svcPath(project, svc.id)}/runtime-environment`, { runtimeEnvironment: svc.runtimeEnvironment ?? {}, runtimeFiles: out }));
  };
  return (
    <Panel id="files" title="Runtime files">
      <Form submit="Save files" onSubmit={submit} label="Runtime files">
        {files.length === 0 && <p className="muted">No files. A file is written at its path in every instance (e.g. a config file), sealed at rest.</p>}
        {files.map((f, i) => (
          <fieldset key={i}>
            <legend>File {i + 1}</legend>
            <Field field={`files.${i}.path`} label="Path">
              {(a) => <input {...a} value={f.path} spellCheck={false} onChange={(e) => set(i, { path: e.target.value })} placeholder="/app/config.json" />}
            </Field>
            <TextAreaField field={`runtimeFiles.${f.path}`} label={`Content of ${f.path || `file ${i + 1}`}`} value={f.data} onChange={(v) => set(i, { data: v })} rows={4} />
            <div>
              <button type="button" className="small danger" onClick={() => setFiles((x) => x.filter((_, j) => j !== i))}>
                Remove file {i + 1}
              </button>
            </div>
          </fieldset>
        ))}
        <div>
          <button type="button" className="secondary" onClick={() => setFiles((x) => [...x, { path: '', data: '', encoding: undefined, keep: undefined }])}>
            Add file
          </button>
        </div>
      </Form>
    </Panel>
  );
}
