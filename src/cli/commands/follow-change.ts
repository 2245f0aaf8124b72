/** After a change that makes a new release (rollback, env, restart): follow the rollout it started. */
import { awaitNewRollout, followRollout, type RolloutOutcome, type RolloutView } from '../rollout-progress.ts';
import type { ServiceRef } from '../service-ref.ts';
import type { Session } from '../session.ts';
import { getService } from '../service-view.ts';

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

/** Prints how a followed rollout ended and sets the exit code: 0 only when it completed. */
export async function reportOutcome(s: Session, ref: ServiceRef, outcome: RolloutOutcome, extra: Record<string, unknown> = {}): Promise<RolloutView | undefined> {
  const { rollout } = outcome;
  let returning = outcome.returning;
  if (!outcome.ok && !returning && rollout.status === 'FAILED') {
    returning = await awaitNewRollout(s.client, ref.project, ref.service, rollout.number, (r) => r.kind === 'return', 3_000).catch(() => undefined);
  }
  if (s.json) s.out.json({ ...extra, rollout, ...(returning ? { returning } : {}) });
  const w = (line: string) => s.progressStream.write(line + '\n');
  const paint = (code: number, t: string) => (s.progressColor ? `\x1b[${code}m${t}\x1b[0m` : t);
  if (outcome.ok) {
    w(paint(32, `✓ Rollout ${rollout.number} completed: release ${rollout.toRelease} is live${rollout.message ? ` (${rollout.message})` : ''}.`));
    return undefined;
  }
  process.exitCode = 1;
  const reason = rollout.message ?? rollout.events.at(-1)?.message ?? 'no reason recorded';
  process.stderr.write(paint(31, `✗ Rollout ${rollout.number} ${rollout.status.toLowerCase()}: ${reason}`) + '\n');
  if (returning) {
    // The status says what the spec got back (env, command, build …), so the next change starts from it.
    const message = (await getService(s.client, ref).catch(() => undefined))?.status?.deployment?.message;
    const restored = message && /returned to release \d+ and restored its (.*)$/.exec(message)?.[1];
    process.stderr.write(`The service is returning to release ${returning.toRelease} (rollout ${returning.number})${restored ? `; its spec is back to that release's: ${restored}` : ''}.\n`);
  }
  return returning;
}
