/** After a change that makes a new release (rollback, env, restart): follow the rollout it started. */
import { awaitNewRollout, followRollout } from '../rollout-progress.ts';
import type { ServiceRef } from '../service-ref.ts';
import type { Session } from '../session.ts';
import { getService, reportOutcome } from './deploy.ts';

export async function followChange(s: Session, ref: ServiceRef, baseline: number, opts: { detach: boolean; response: unknown; done: string }): Promise<void> {
  if (opts.detach) {
    if (s.json) s.out.json(opts.response);
    else s.out.line(opts.done);
    return;
  }
  if (!s.json) s.out.line(opts.done);
  const rollout = await awaitNewRollout(s.client, ref.project, ref.service, baseline, () => true, 10_000);
  if (!rollout) {
    if (s.json) s.out.json({ response: opts.response, rollout: null });
    else s.out.line('No new release: nothing to roll out.');
    return;
  }
  const svc = await getService(s.client, ref);
  const outcome = await followRollout(s.client, ref.project, ref.service, rollout.number, { out: s.out, stream: s.progressStream, color: s.progressColor, wantWeb: svc.deployment?.instances ?? 1 });
  await reportOutcome(s, ref, outcome, { response: opts.response });
}
