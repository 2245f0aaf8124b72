import { useEffect, useState } from 'react';
import { get } from '../../../api.ts';
import { LiveStatus, useEventStream } from '../../../components/index.ts';

const enc = encodeURIComponent;
interface RolloutItem {
  number: number;
  kind: string;
  status: string;
  toRelease: number | null;
  fromRelease: number | null;
}

/** The newest rollout number of a service now (0: none), to tell the rollout a change makes from older ones. */
export async function latestRollout(project: string, service: string): Promise<number> {
  const r = await get<{ rollouts: RolloutItem[] }>(`/projects/${enc(project)}/services/${enc(service)}/rollouts`);
  return r.rollouts.reduce((m, x) => Math.max(m, x.number), 0);
}

/**
 * Follows the rollout a saved change started (the first one numbered after `after`): its status and each
 * step as it happens, over the rollout's event stream. `what` says which change made it.
 */
export function FollowRollout({ project, service, after, what, n = 0, onFinished }: { project: string; service: string; after: number; what: string; /** a new value follows a new change */ n?: number; onFinished?: () => void }) {
  const [rollout, setRollout] = useState<RolloutItem>();
  const [steps, setSteps] = useState<{ id: number; message: string }[]>([]);
  const [status, setStatus] = useState<string>();
  const [waited, setWaited] = useState(0);

  useEffect(() => {
    setRollout(undefined);
    setSteps([]);
    setStatus(undefined);
    setWaited(0);
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const look = async () => {
      try {
        const r = await get<{ rollouts: RolloutItem[] }>(`/projects/${enc(project)}/services/${enc(service)}/rollouts`);
        const mine = r.rollouts.filter((x) => x.number > after).sort((a, b) => a.number - b.number)[0];
        if (stop) return;
        if (mine) return setRollout(mine);
      } catch {
        // try again
      }
      setWaited((w) => w + 1);
      if (!stop) timer = setTimeout(look, 700);
    };
    void look();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [project, service, after, n]);

  useEventStream(
    rollout ? `/projects/${enc(project)}/services/${enc(service)}/rollouts/${rollout.number}/events` : undefined,
    (type, data) => {
      const d = JSON.parse(data) as { id: number; message: string; status?: string };
      if (type === 'end') {
        setStatus(d.status);
        onFinished?.();
      } else setSteps((s) => (s.some((x) => x.id === d.id) ? s : [...s, { id: d.id, message: d.message }]));
    },
    [rollout?.number, n],
  );

  const none = !rollout && waited > 6;
  const shown = status ?? (rollout ? 'IN_PROGRESS' : none ? 'COMPLETED' : undefined);
  return (
    <section className="panel follow" aria-labelledby="follow-h">
      <div className="panel-head">
        <h2 id="follow-h">Rollout of your change</h2>
        <LiveStatus status={shown} label={none ? 'applied' : undefined} />
      </div>
      <p role="status">
        {rollout
          ? `${what}: rollout #${rollout.number} (${rollout.kind} to release ${rollout.toRelease ?? '?'}${rollout.fromRelease ? ` from ${rollout.fromRelease}` : ''}) ${status ? status.toLowerCase().replace(/_/g, ' ') : 'in progress'}.`
          : none
            ? `${what}. It applied without a rollout (nothing that shapes an instance changed, or the service has no release yet).`
            : `${what}. Waiting for its rollout…`}
      </p>
      {steps.length > 0 && (
        <ol className="steps" tabIndex={0} aria-label="Steps of the rollout">
          {steps.map((s) => (
            <li key={s.id}>{s.message}</li>
          ))}
        </ol>
      )}
    </section>
  );
}
