import { useState } from 'react';
import { Form, NumberField, Panel, SelectField, send, TextField } from '../../../components/index.ts';
import { svcPath, type HealthCheckView, type Save, type ServiceView } from './types.ts';

type Draft = Record<keyof HealthCheckView, string>;
const KINDS = [
  { value: 'readinessProbe', label: 'Readiness (gates traffic and rollouts)' },
  { value: 'livenessProbe', label: 'Liveness (replaces a stuck instance)' },
  { value: 'startupProbe', label: 'Startup (holds the others until it passes)' },
] as const;

const draftOf = (h: HealthCheckView): Draft => ({
  protocol: h.protocol,
  type: h.type,
  path: h.path ?? '',
  cmd: h.cmd ?? '',
  port: h.port === undefined ? '' : String(h.port),
  initialDelaySeconds: String(h.initialDelaySeconds),
  periodSeconds: String(h.periodSeconds),
  timeoutSeconds: String(h.timeoutSeconds),
  failureThreshold: String(h.failureThreshold),
  successThreshold: h.successThreshold === undefined ? '' : String(h.successThreshold),
});
const num = (s: string) => (s.trim() === '' ? undefined : Number(s));
function bodyOf(d: Draft): Record<string, unknown> {
  return {
    protocol: d.protocol,
    type: d.type,
    ...(d.protocol === 'HTTP' ? { path: d.path } : {}),
    ...(d.protocol === 'CMD' ? { cmd: d.cmd } : {}),
    ...(d.protocol !== 'CMD' && num(d.port) !== undefined ? { port: num(d.port) } : {}),
    initialDelaySeconds: num(d.initialDelaySeconds),
    periodSeconds: num(d.periodSeconds),
    timeoutSeconds: num(d.timeoutSeconds),
    failureThreshold: num(d.failureThreshold),
    ...(num(d.successThreshold) !== undefined ? { successThreshold: num(d.successThreshold) } : {}),
  };
}

/** Startup, readiness and liveness checks (HTTP, TCP or a command): saved as one change, then rolled out. */
export function HealthSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [checks, setChecks] = useState<Draft[]>(() => (svc.healthChecks ?? []).map(draftOf));
  const set = (i: number, patch: Partial<Draft>) => setChecks((r) => r.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const port = svc.ports?.[0]?.internalPort ?? 8080;
  return (
    <Panel id="health" title="Health checks">
      <Form submit="Save health checks" onSubmit={() => save('Health checks saved', () => send('POST', `${svcPath(project, svc.id)}/health-checks`, { healthChecks: checks.map(bodyOf) }))} label="Health checks">
        {checks.length === 0 && <p className="muted">No checks: an instance counts as ready once its port accepts connections.</p>}
        {checks.map((c, i) => (
          <fieldset key={i}>
            <legend>Check {i + 1}</legend>
            <div className="grid2">
              <SelectField field={`healthChecks.${i}.type`} label="Kind" value={c.type} onChange={(v) => set(i, { type: v })} options={KINDS} />
              <SelectField field={`healthChecks.${i}.protocol`} label="Protocol" value={c.protocol} onChange={(v) => set(i, { protocol: v })} options={['HTTP', 'TCP', 'CMD'] as const} />
              {c.protocol === 'HTTP' && <TextField field={`healthChecks.${i}.path`} label="Path" value={c.path} onChange={(v) => set(i, { path: v })} hint="e.g. /health" />}
              {c.protocol === 'CMD' && <TextField field={`healthChecks.${i}.cmd`} label="Command" value={c.cmd} onChange={(v) => set(i, { cmd: v })} />}
              {c.protocol !== 'CMD' && <NumberField field={`healthChecks.${i}.port`} label="Port" value={c.port} onChange={(v) => set(i, { port: v })} />}
              <NumberField field={`healthChecks.${i}.initialDelaySeconds`} label="Initial delay (s, 1-180)" value={c.initialDelaySeconds} onChange={(v) => set(i, { initialDelaySeconds: v })} />
              <NumberField field={`healthChecks.${i}.periodSeconds`} label="Period (s, 10-600)" value={c.periodSeconds} onChange={(v) => set(i, { periodSeconds: v })} />
              <NumberField field={`healthChecks.${i}.timeoutSeconds`} label="Timeout (s, 1-60)" value={c.timeoutSeconds} onChange={(v) => set(i, { timeoutSeconds: v })} />
              <NumberField field={`healthChecks.${i}.failureThreshold`} label="Failures before failing" value={c.failureThreshold} onChange={(v) => set(i, { failureThreshold: v })} />
              <NumberField field={`healthChecks.${i}.successThreshold`} label="Successes before passing" value={c.successThreshold} onChange={(v) => set(i, { successThreshold: v })} />
            </div>
            <div>
              <button type="button" className="small danger" onClick={() => setChecks((x) => x.filter((_, j) => j !== i))}>
                Remove check {i + 1}
              </button>
            </div>
          </fieldset>
        ))}
        <div>
          <button
            type="button"
            className="secondary"
            onClick={() => setChecks((x) => [...x, { protocol: 'HTTP', type: 'readinessProbe', path: '/', cmd: '', port: String(port), initialDelaySeconds: '1', periodSeconds: '10', timeoutSeconds: '5', failureThreshold: '3', successThreshold: '1' }])}
          >
            Add check
          </button>
        </div>
      </Form>
    </Panel>
  );
}
