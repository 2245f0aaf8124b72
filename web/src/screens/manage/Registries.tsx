import { useState } from 'react';
import { get } from '../../api.ts';
import { CheckboxField, ConfirmButton, EmptyState, Form, Panel, SecretField, SelectField, send, TextField } from '../../components/index.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';

interface Credential {
  id: string;
  name: string;
  provider: string;
  registryUrl?: string;
  credentials: { username?: string; scope: { pull?: boolean; push?: boolean } };
  restrictions: { restricted: boolean; projects?: string[] };
}
const PROVIDERS = ['dockerhub', 'github', 'gitlab', 'gar', 'ecr', 'acr', 'dhi', 'custom'] as const;

/** Saved registry credentials (admins write; the password is sealed and never shown again). */
export function Registries() {
  const list = usePoll((signal) => get<{ data: { credentials: Credential[] } }>('/v1/integrations/registries?per_page=100', signal).then((r) => r.data.credentials), [], 0);
  const [name, setName] = useState('');
  const [provider, setProvider] = useState<(typeof PROVIDERS)[number]>('dockerhub');
  const [registryUrl, setRegistryUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [restricted, setRestricted] = useState(false);
  const [projects, setProjects] = useState('');

  const submit = () =>
    send('POST', '/v1/integrations/registries', {
      name,
      provider,
      ...(registryUrl ? { registryUrl } : {}),
      credentials: { username, password, scope: { pull: true, push: false } },
      restrictions: { restricted, ...(restricted ? { projects: projects.split(/[\s,]+/).filter(Boolean) } : {}) },
    });

  return (
    <section>
      <h1 tabIndex={-1}>Registry credentials</h1>
      <Panel id="new-registry" title="Add credentials">
        <Form
          submit="Save credentials"
          onSubmit={submit}
          onDone={() => {
            setName('');
            setPassword('');
            list.reload();
          }}
        >
          <TextField field="name" label="Name" value={name} onChange={setName} hint="3-39 characters; services name them by the id made from it." />
          <SelectField field="provider" label="Provider" value={provider} onChange={setProvider} options={PROVIDERS} />
          <TextField field="registryUrl" label={`Registry URL${provider === 'custom' ? '' : ' (optional)'}`} value={registryUrl} onChange={setRegistryUrl} hint="e.g. registry.example.com:5000" />
          <div className="grid2">
            <TextField field="credentials.username" label="Username" value={username} onChange={setUsername} autoComplete="off" />
            <SecretField field="credentials.password" label="Password or access token" value={password} onChange={setPassword} />
          </div>
          <CheckboxField field="restrictions.restricted" label="Only some projects may use them" checked={restricted} onChange={setRestricted} />
          {restricted && <TextField field="restrictions.projects" label="Projects (ids, comma separated)" value={projects} onChange={setProjects} />}
        </Form>
      </Panel>
      <Panel id="registry-list" title="Saved credentials">
        <Problem error={list.error} />
        {list.data?.length === 0 && <EmptyState title="No registry credentials">Add some above to deploy private images.</EmptyState>}
        {list.data && list.data.length > 0 && (
          <table className="rows">
            <caption className="sr-only">Registry credentials</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Provider</th>
                <th scope="col">Registry</th>
                <th scope="col">User</th>
                <th scope="col">Projects</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((c) => (
                <tr key={c.id}>
                  <th scope="row" data-label="Name">
                    {c.name} <span className="muted">({c.id})</span>
                  </th>
                  <td data-label="Provider">{c.provider}</td>
                  <td data-label="Registry">{c.registryUrl ?? <span className="muted">provider default</span>}</td>
                  <td data-label="User">{c.credentials.username ?? <span className="muted">—</span>}</td>
                  <td data-label="Projects">{c.restrictions.restricted ? (c.restrictions.projects ?? []).join(', ') || 'none' : 'all'}</td>
                  <td data-label="Actions">
                    <ConfirmButton small danger label={`Delete ${c.name}`} title={`Delete credentials ${c.name}?`} confirmName={c.id} onConfirm={() => send('DELETE', `/v1/integrations/registries/${encodeURIComponent(c.id)}`)} onDone={() => list.reload()}>
                      Services that pull with them fail their next pull.
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </section>
  );
}
