import { useState } from 'react';
import { get } from '../../api.ts';
import { ConfirmButton, EmptyState, Form, Panel, SelectField, send, TextField } from '../../components/index.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, When } from '../../ui.tsx';

interface Token {
  id: string;
  name: string;
  role: string;
  projectId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
const ROLES = [
  { value: 'developer', label: 'developer: deploy and configure one project' },
  { value: 'viewer', label: 'viewer: read one project' },
  { value: 'owner', label: 'owner: a project, and its tokens' },
  { value: 'admin', label: 'admin: everything' },
] as const;

/** API tokens (admins; owners see their project's): create one (shown once), revoke one. */
export function Tokens() {
  const tokens = usePoll((signal) => get<{ tokens: Token[] }>('/tokens', signal).then((r) => r.tokens), [], 0);
  const [name, setName] = useState('');
  const [role, setRole] = useState<(typeof ROLES)[number]['value']>('developer');
  const [projectId, setProjectId] = useState('');
  const [made, setMade] = useState<{ name: string; token: string }>();
  const live = tokens.data?.filter((t) => !t.revokedAt) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>API tokens</h1>
      <Panel id="new-token" title="New token">
        <Form
          submit="Create token"
          onSubmit={() => send<{ name: string; token: string }>('POST', '/tokens', { name, role, ...(role !== 'admin' ? { projectId } : {}) })}
          onDone={(r) => {
            setMade(r as { name: string; token: string });
            setName('');
            tokens.reload();
          }}
        >
          <TextField field="name" label="Name" value={name} onChange={setName} hint="Who or what uses it, e.g. ci-deploy." />
          <SelectField field="role" label="Role" value={role} onChange={setRole} options={ROLES} />
          {role !== 'admin' && <TextField field="projectId" label="Project" value={projectId} onChange={setProjectId} hint="The id of the project it may use." />}
        </Form>
        {made && (
          <div className="notice" role="status">
            <p>
              Token <strong>{made.name}</strong> created. Copy it now: it is not shown again.
            </p>
            <pre className="commands" aria-label="The new token">
              {made.token}
            </pre>
          </div>
        )}
      </Panel>
      <Panel id="token-list" title="Tokens">
        <Problem error={tokens.error} />
        {tokens.data && live.length === 0 && <EmptyState title="No tokens">Create one above for a CI job or a teammate.</EmptyState>}
        {live.length > 0 && (
          <table className="rows">
            <caption className="sr-only">API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Project</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {live.map((t) => (
                <tr key={t.id}>
                  <th scope="row" data-label="Name">
                    {t.name}
                  </th>
                  <td data-label="Role">{t.role}</td>
                  <td data-label="Project">{t.projectId ?? <span className="muted">all</span>}</td>
                  <td data-label="Last used">
                    <When at={t.lastUsedAt} />
                  </td>
                  <td data-label="Actions">
                    <ConfirmButton small danger label={`Revoke ${t.name}`} title={`Revoke token ${t.name}?`} confirmLabel="Revoke" onConfirm={() => send('DELETE', `/tokens/${encodeURIComponent(t.id)}`)} onDone={() => tokens.reload()}>
                      Anything using it is refused from now on.
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
