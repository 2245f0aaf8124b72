import { useState } from 'react';
import { CheckboxField, Form, NumberField, Panel, SecretField, SelectField, send, TextAreaField, TextField } from '../../../components/index.ts';
import { svcPath, type PortView, type Save, type SecurityPolicies, type ServiceView } from './types.ts';

const REDACTED = '[redacted]';

interface PortDraft {
  id?: string;
  name: string;
  internalPort: string;
  protocol: PortView['protocol'];
  public: boolean;
  domains: string;
  users: { username: string; password: string }[];
  allow: string;
  deny: string;
  headers: { name: string; value: string }[];
  paths: { path: string; mode: 'prefix' | 'exact'; access: 'protected' | 'unprotected' }[];
  verificationMode: 'or' | 'and';
}

const lines = (s: string) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

function draftOf(p: PortView): PortDraft {
  const s = p.security ?? {};
  const ip = [...(s.policies ?? []), ...(s.ip ?? [])];
  return {
    id: p.name,
    name: p.name,
    internalPort: String(p.internalPort),
    protocol: p.protocol,
    public: p.public === true,
    domains: (p.domains ?? []).map((d) => (typeof d === 'string' ? d : d.name)).join('\n'),
    users: (s.credentials ?? []).map((c) => ({ username: c.username, password: c.password })),
    allow: ip.filter((r) => r.action === 'ALLOW').flatMap((r) => r.addresses).join('\n'),
    deny: ip.filter((r) => r.action === 'DENY').flatMap((r) => r.addresses).join('\n'),
    headers: (s.headers ?? []).map((h) => ({ name: h.name ?? '', value: h.value ?? '' })),
    paths: (s.securePathConfiguration?.rules ?? []).flatMap((r) => r.paths.filter((x) => x.routingMode !== 'regex').map((x) => ({ path: x.path ?? '/', mode: x.routingMode as 'prefix' | 'exact', access: r.accessMode ?? 'protected' }))),
    verificationMode: s.verificationMode ?? 'or',
  };
}

function bodyOf(d: PortDraft): Record<string, unknown> {
  const security: SecurityPolicies = {};
  if (d.users.length) security.credentials = d.users.map((u) => ({ username: u.username, password: u.password, type: 'basic-auth' }));
  const policies = [...(lines(d.allow).length ? [{ addresses: lines(d.allow), action: 'ALLOW' as const }] : []), ...(lines(d.deny).length ? [{ addresses: lines(d.deny), action: 'DENY' as const }] : [])];
  if (policies.length) security.policies = policies;
  if (d.headers.length) security.headers = d.headers.map((h) => ({ name: h.name, value: h.value }));
  if (d.paths.length) security.securePathConfiguration = { enabled: true, rules: d.paths.map((p) => ({ paths: [{ path: p.path, routingMode: p.mode }], accessMode: p.access })) };
  if (Object.keys(security).length) security.verificationMode = d.verificationMode;
  return {
    ...(d.id ? { id: d.id } : {}),
    name: d.name,
    internalPort: Number(d.internalPort),
    protocol: d.protocol,
    public: d.public,
    ...(lines(d.domains).length ? { domains: lines(d.domains) } : {}),
    security,
  };
}

/** Ports, their custom domains and access policies (basic auth, IP rules, headers, path rules): one save. */
export function PortSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [ports, setPorts] = useState<PortDraft[]>(() => (svc.ports ?? []).map(draftOf));
  const set = (i: number, patch: Partial<PortDraft>) => setPorts((r) => r.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const submit = () => save('Ports saved', () => send('POST', `${svcPath(project, svc.id)}/ports`, { ports: ports.map(bodyOf) }));
  const where = (svc.ports ?? []).filter((p) => p.dns);

  return (
    <Panel id="ports" title="Ports, domains and access">
      {where.length > 0 && (
        <p className="muted">
          Answers at{' '}
          {where.map((p) => (
            <code key={p.name}>{p.dns} </code>
          ))}
        </p>
      )}
      <Form submit="Save ports" onSubmit={submit} label="Ports">
        {ports.length === 0 && <p className="muted">No ports: the service gets no traffic. Add one for a web app.</p>}
        {ports.map((p, i) => (
          <fieldset key={i} className="port">
            <legend>Port {p.name || i + 1}</legend>
            <div className="grid2">
              <TextField field={`ports.${i}.name`} label="Port name" value={p.name} onChange={(v) => set(i, { name: v })} hint="e.g. p01, web" />
              <NumberField field={`ports.${i}.internalPort`} label="Container port" value={p.internalPort} onChange={(v) => set(i, { internalPort: v })} />
              <SelectField field={`ports.${i}.protocol`} label="Protocol" value={p.protocol} onChange={(v) => set(i, { protocol: v })} options={['HTTP', 'HTTP/2', 'TCP', 'UDP'] as const} />
            </div>
            <CheckboxField field={`ports.${i}.public`} label="Public (through the router)" checked={p.public} onChange={(v) => set(i, { public: v })} />
            <TextAreaField field={`ports.${i}.domains`} label="Custom domains (one a line)" value={p.domains} onChange={(v) => set(i, { domains: v })} rows={2} />
            <details open={p.users.length + p.headers.length + p.paths.length > 0 || !!p.allow || !!p.deny}>
              <summary>Access policies</summary>
              <div className="stack">
                <h3>Basic authentication</h3>
                {p.users.map((u, k) => (
                  <div key={k} className="grid2">
                    <TextField field={`ports.${i}.security.credentials.${k}.username`} label={`User ${k + 1} name`} value={u.username} onChange={(v) => set(i, { users: p.users.map((x, j) => (j === k ? { ...x, username: v } : x)) })} />
                    <SecretField field={`ports.${i}.security.credentials.${k}.password`} label={`User ${k + 1} password`} value={u.password === REDACTED ? '' : u.password} onChange={(v) => set(i, { users: p.users.map((x, j) => (j === k ? { ...x, password: v || REDACTED } : x)) })} hint={u.password === REDACTED ? 'Kept as it is unless you type a new one.' : undefined} />
                    <div>
                      <button type="button" className="small danger" onClick={() => set(i, { users: p.users.filter((_, j) => j !== k) })}>
                        Remove user {k + 1}
                      </button>
                    </div>
                  </div>
                ))}
                <div>
                  <button type="button" className="small secondary" onClick={() => set(i, { users: [...p.users, { username: '', password: '' }] })}>
                    Add user<span className="sr-only"> to port {p.name}</span>
                  </button>
                </div>
                <div className="grid2">
                  <TextAreaField field={`ports.${i}.security.policies.0`} label="Allow only these IPs / CIDRs" value={p.allow} onChange={(v) => set(i, { allow: v })} rows={2} />
                  <TextAreaField field={`ports.${i}.security.policies.1`} label="Deny these IPs / CIDRs" value={p.deny} onChange={(v) => set(i, { deny: v })} rows={2} />
                </div>
                <h3>Required headers</h3>
                {p.headers.map((h, k) => (
                  <div key={k} className="grid2">
                    <TextField field={`ports.${i}.security.headers.${k}.name`} label={`Header ${k + 1} name`} value={h.name} onChange={(v) => set(i, { headers: p.headers.map((x, j) => (j === k ? { ...x, name: v } : x)) })} />
                    <SecretField field={`ports.${i}.security.headers.${k}.value`} label={`Header ${k + 1} value`} value={h.value} onChange={(v) => set(i, { headers: p.headers.map((x, j) => (j === k ? { ...x, value: v } : x)) })} />
                  </div>
                ))}
                <div>
                  <button type="button" className="small secondary" onClick={() => set(i, { headers: [...p.headers, { name: '', value: '' }] })}>
                    Add header rule<span className="sr-only"> to port {p.name}</span>
                  </button>
                </div>
                <h3>Path rules</h3>
                {p.paths.map((r, k) => (
                  <div key={k} className="grid2">
                    <TextField field={`ports.${i}.security.securePathConfiguration.rules.${k}`} label={`Path ${k + 1}`} value={r.path} onChange={(v) => set(i, { paths: p.paths.map((x, j) => (j === k ? { ...x, path: v } : x)) })} />
                    <SelectField field={`ports.${i}.paths.${k}.mode`} label={`Path ${k + 1} match`} value={r.mode} onChange={(v) => set(i, { paths: p.paths.map((x, j) => (j === k ? { ...x, mode: v } : x)) })} options={['prefix', 'exact'] as const} />
                    <SelectField field={`ports.${i}.paths.${k}.access`} label={`Path ${k + 1} access`} value={r.access} onChange={(v) => set(i, { paths: p.paths.map((x, j) => (j === k ? { ...x, access: v } : x)) })} options={[{ value: 'protected', label: 'protected by the policies' }, { value: 'unprotected', label: 'open to everyone' }]} />
                  </div>
                ))}
                <div>
                  <button type="button" className="small secondary" onClick={() => set(i, { paths: [...p.paths, { path: '/', mode: 'prefix', access: 'unprotected' }] })}>
                    Add path rule<span className="sr-only"> to port {p.name}</span>
                  </button>
                </div>
                <SelectField field={`ports.${i}.security.verificationMode`} label="A request passes when it meets" value={p.verificationMode} onChange={(v) => set(i, { verificationMode: v })} options={[{ value: 'or', label: 'any one policy' }, { value: 'and', label: 'every policy' }]} />
              </div>
            </details>
            <div>
              <button type="button" className="small danger" onClick={() => setPorts((x) => x.filter((_, j) => j !== i))}>
                Remove port {p.name || i + 1}
              </button>
            </div>
          </fieldset>
        ))}
        <div>
          <button type="button" className="secondary" onClick={() => setPorts((x) => [...x, { name: `p0${x.length + 1}`, internalPort: '8080', protocol: 'HTTP', public: true, domains: '', users: [], allow: '', deny: '', headers: [], paths: [], verificationMode: 'or' }])}>
            Add port
          </button>
        </div>
      </Form>
    </Panel>
  );
}
