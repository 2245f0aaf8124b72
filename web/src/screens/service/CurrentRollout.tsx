import { useEffect, useState } from 'react';
import { paths, post, stream, type Instance, type Rollout, type RolloutEvent } from '../../api.ts';
import type { Polled } from '../../hooks.ts';
import { Problem, StatusBadge, When } from '../../ui.tsx';
import { CanaryTraffic } from '../canary/CanaryTraffic.tsx';

/**
 * The newest rollout. While it is in progress its events arrive live over the API's event stream (read
 * with fetch, since EventSource cannot send the token); progress is the share of wanted instances that
 * run the target release and are ready.
 */
export function CurrentRollout(props: { project: string; service: string; rollouts: Polled<Rollout[]>; instances: Instance[] | undefined; desired: number; onFinished: () => void }) {
  const { project, service, rollouts, instances, desired, onFinished } = props;
  const current = rollouts.data?.[0];
  const [live, setLive] = useState<{ number: number; events: RolloutEvent[]; status?: string }>();
  const [acting, setActing] = useState<'continue' | 'cancel'>();
  const [actionError, setActionError] = useState<string>();
  const act = async (n: number, action: 'continue' | 'cancel') => {
    setActing(action);
    setActionError(undefined);
    try {
      await post(paths.rolloutAction(project, service, n, action));
      onFinished();
    } catch (err) {
      setActionError(`${action === 'continue' ? 'Continue' : 'Cancel'} failed: ${(err as Error).message}`);
    } finally {
      setActing(undefined);
    }
  };

  const number = current?.number;
  const inProgress = current?.status === 'IN_PROGRESS';
  useEffect(() => {
    if (number === undefined || !inProgress) return;
    const ctl = new AbortController();
    setLive({ number, events: [] });
    stream(
      paths.rolloutEvents(project, service, number),
      (type, data) => {
        if (type === 'rollout') {
          const e = JSON.parse(data) as RolloutEvent;
          setLive((l) => (l && l.number === number && !l.events.some((x) => x.id === e.id) ? { ...l, events: [...l.events, e] } : l));
        } else if (type === 'end') {
          const { status } = JSON.parse(data) as { status: string };
          setLive((l) => (l && l.number === number ? { ...l, status } : l));
          onFinished();
        }
      },
      ctl.signal,
    ).catch(() => {
      // the list is polled as well: a dropped stream only loses liveness
    });
    return () => ctl.abort();
  }, [project, service, number, inProgress]);

  if (!current) {
    return (
      <section aria-labelledby="rollout-h" className="panel">
        <h2 id="rollout-h">Current rollout</h2>
        <Problem error={rollouts.error} />
        <p className="muted">{rollouts.loading ? 'Loading…' : 'No rollout yet.'}</p>
      </section>
    );
  }

  // Merge the streamed events with the polled ones, so neither a slow poll nor a dropped stream hides a step.
  const byId = new Map<number, RolloutEvent>();
  for (const e of current.events) byId.set(e.id, e);
  if (live?.number === current.number) for (const e of live.events) byId.set(e.id, e);
  const events = [...byId.values()].sort((a, b) => a.id - b.id);
  const status = live?.number === current.number && live.status && current.status === 'IN_PROGRESS' ? live.status : current.status;

  const done = status !== 'IN_PROGRESS';
  const onTarget = (instances ?? []).filter((i) => i.release === current.toRelease && i.ready).length;
  const total = Math.max(desired, 1);
  const value = done && status === 'COMPLETED' ? total : Math.min(onTarget, total);
  const pct = Math.round((value / total) * 100);

  return (
    <section aria-labelledby="rollout-h" className="panel">
      <h2 id="rollout-h">Current rollout</h2>
      <Problem error={rollouts.error} />
      <div className="title">
        <h3>
          Rollout #{current.number}: {current.kind} to release {current.toRelease ?? '?'}
          {current.fromRelease !== null && <span className="muted"> from {current.fromRelease}</span>}
        </h3>
        <StatusBadge status={status} />
      </div>
      <p className="muted">
        {current.strategy}
        {current.canary && ` · canary step ${current.canary.currentStep} of ${current.canary.steps.length}${current.canary.paused ? ' (paused)' : ''}`} · started <When at={current.createdAt} />
        {current.finishedAt && (
          <>
            {' '}
            · finished <When at={current.finishedAt} />
          </>
        )}
      </p>
      <label htmlFor="rollout-progress">
        {desired === 0 ? `No instances wanted (${pct}%)` : `${value} of ${total} instance${total === 1 ? '' : 's'} on release ${current.toRelease} and ready (${pct}%)`}
      </label>
      <progress id="rollout-progress" max={total} value={value} />
      <Problem error={actionError} />
      {current.canary?.paused && status === 'IN_PROGRESS' && (
        <div className="actions" role="group" aria-label={`Canary rollout ${current.number} is paused`}>
          <button type="button" disabled={acting !== undefined} onClick={() => act(current.number, 'continue')}>
            {acting === 'continue' ? 'Continuing…' : current.canary.currentStep < current.canary.steps.length ? `Continue to step ${current.canary.currentStep + 1}` : 'Continue to all instances'}
          </button>
          <button type="button" className="danger" disabled={acting !== undefined} onClick={() => act(current.number, 'cancel')}>
            {acting === 'cancel' ? 'Cancelling…' : 'Cancel rollout'}
          </button>
        </div>
      )}
      {current.canary?.steps.some((x) => x.trafficPercent !== undefined) && <CanaryTraffic project={project} service={service} number={current.number} running={status === 'IN_PROGRESS'} />}
      {current.message && status !== 'COMPLETED' && <p>{current.message}</p>}
      <ol className="steps" tabIndex={0} aria-label={`Steps of rollout ${current.number}`} aria-live="polite">
        {events.map((e) => (
          <li key={e.id}>
            <When at={e.createdAt} /> {e.message}
          </li>
        ))}
      </ol>
    </section>
  );
}
