import { useState } from 'react';
import { get } from '../../../api.ts';
import { Form, NumberField, Panel, SelectField, send } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { svcPath, type Save, type ServiceView } from './types.ts';

const STRATEGIES = [
  { value: 'rollout-balanced', label: 'Rolling, balanced' },
  { value: 'rollout-steady', label: 'Rolling, steady (one at a time)' },
  { value: 'rollout-fast', label: 'Rolling, fast' },
  { value: 'recreate', label: 'Recreate (stop all, then start)' },
] as const;
type Strategy = (typeof STRATEGIES)[number]['value'];

interface PlanStep {
  oldInstances?: number;
  newInstances?: number;
  [k: string]: unknown;
}
interface RolloutPlan {
  steps: PlanStep[];
  peakInstances?: number;
  peakMemoryMb?: number;
  [k: string]: unknown;
}

/** The plan (size) of each instance: saved as one change. */
export function PlanSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [plan, setPlan] = useState(svc.billing?.deploymentPlan ?? 'nf-compute-20');
  const plans = usePoll((signal) => get<{ data: { plans: { id: string; cpuResource: number; ramResource: number }[] } }>('/v1/plans', signal).then((r) => r.data.plans), [], 0);
  return (
    <Panel id="plan" title="Plan">
      <Form submit="Save plan" onSubmit={() => save('Plan saved', () => send('PATCH', `/v1/projects/${encodeURIComponent(project)}/services/${svc.serviceType}/${encodeURIComponent(svc.id)}`, { billing: { deploymentPlan: plan } }))} label="Plan">
        <SelectField field="billing.deploymentPlan" label="Plan of each instance" value={plan} onChange={setPlan} options={(plans.data ?? [{ id: plan, cpuResource: 0, ramResource: 0 }]).map((p) => ({ value: p.id, label: p.cpuResource ? `${p.id}: ${p.cpuResource} CPU, ${p.ramResource} MB` : p.id }))} />
      </Form>
    </Panel>
  );
}

/** Instances and rollout strategy, with the dry-run plan of the rollout shown before saving. */
export function ScaleSettings({ project, svc, save }: { project: string; svc: ServiceView; save: Save }) {
  const [instances, setInstances] = useState(String(svc.deployment?.instances ?? 1));
  const [strategy, setStrategy] = useState<Strategy>((svc.deployment?.strategy?.type as Strategy) ?? 'rollout-balanced');
  const [preview, setPreview] = useState<{ for: string; plan?: RolloutPlan; error?: string }>();
  const key = `${instances}/${strategy}`;
  const native = `/projects/${encodeURIComponent(project)}/services/${encodeURIComponent(svc.id)}`;

  const showPlan = async () => {
    try {
      const plan = await send<RolloutPlan>('POST', `${native}/rollouts/plan`, { instances: Number(instances), strategy });
      setPreview({ for: key, plan });
    } catch (err) {
      setPreview({ for: key, error: (err as Error).message });
    }
  };
  const planned = preview?.for === key && preview.plan;

  return (
    <Panel id="scale" title="Instances and strategy">
      <Form
        submit={planned ? 'Save instances and strategy' : 'Show the rollout plan'}
        onSubmit={async () => {
          if (!planned) return showPlan();
          await save('Instances and strategy saved', () => send('POST', `${svcPath(project, svc.id)}/deployment`, { instances: Number(instances), strategy: { type: strategy } }));
          setPreview(undefined);
        }}
        label="Instances and strategy"
      >
        <div className="grid2">
          <NumberField field="instances" label="Instances" value={instances} onChange={setInstances} min={0} max={100} />
          <SelectField field="strategy.type" label="Rollout strategy" value={strategy} onChange={setStrategy} options={STRATEGIES} />
        </div>
        <div aria-live="polite" className="plan-preview">
          {preview?.error && <p className="field-error">{preview.error}</p>}
          {planned && (
            <>
              <p>
                The next rollout would take {planned.steps.length} step{planned.steps.length === 1 ? '' : 's'}
                {planned.peakInstances !== undefined ? `, with at most ${planned.peakInstances} instances` : ''}
                {planned.peakMemoryMb !== undefined ? ` and ${planned.peakMemoryMb} MB` : ''} at once:
              </p>
              <ol className="steps" tabIndex={0} aria-label="Rollout plan">
                {planned.steps.map((s, i) => (
                  <li key={i}>{describe(s)}</li>
                ))}
              </ol>
            </>
          )}
          {!planned && <p className="muted">Press “Show the rollout plan” to see the steps before anything changes.</p>}
        </div>
      </Form>
    </Panel>
  );
}

function describe(s: PlanStep): string {
  const action = typeof s.action === 'string' ? `${s.action}: ` : '';
  return `${action}${s.oldInstances ?? 0} old and ${s.newInstances ?? 0} new instance${s.newInstances === 1 ? '' : 's'}`;
}
