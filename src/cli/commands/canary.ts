/**
 * `slipway canary [release]`: a native canary by request percentage (`--step 5 --step 25`), optional pins
 * (`--pin-header X-Canary=on`, `--pin-cookie canary=1`) and automatic analysis (`--max-error-rate 1`,
 * `--max-p99 500`, `--p99-above-stable 100`, …), then follows it: each analysis result as an event line and
 * the live split with the per-release metrics under the bars. `slipway canary continue|cancel <rollout>`.
 */
import type { Command } from 'commander';
import { followRollout, latestRolloutNumber, listRollouts } from '../rollout-progress.ts';
import { requireService, servicePaths, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { getService } from '../service-view.ts';
import { reportOutcome } from './follow-change.ts';

const collect = (v: string, all: string[]) => [...all, v];

function pair(flag: string, v: string): { name: string; value: string } {
  const eq = v.indexOf('=');
  if (eq < 1) throw new UsageError(`${flag} takes NAME=VALUE (got '${v}')`);
  return { name: v.slice(0, eq), value: v.slice(eq + 1) };
}

export function registerCanary(program: Command): void {
  const canary = program
    .command('canary [release]')
    .description('roll out a release (default: the newest) as a canary by request percentage, with optional pins and automatic analysis, and follow it')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('--step <percent>', 'a step: percent of requests to the new release (repeat for more steps)', collect, [] as string[])
    .option('--pin-header <name=value>', 'requests with this header value always reach the new release')
    .option('--pin-cookie <name=value>', 'requests with this cookie always reach the new release')
    .option('--interval <seconds>', 'analysis: seconds of traffic per measurement')
    .option('--max-error-rate <percent>', 'analysis: most 5xx share the new release may have')
    .option('--error-rate-above-stable <points>', 'analysis: most the 5xx share may exceed the stable release’s')
    .option('--max-p50 <ms>', 'analysis: highest p50 latency')
    .option('--max-p99 <ms>', 'analysis: highest p99 latency')
    .option('--p99-above-stable <ms>', 'analysis: most the p99 may exceed the stable release’s')
    .option('--min-requests <n>', 'analysis: requests needed before judging a window')
    .option('--failure-limit <n>', 'analysis: failed measurements tolerated')
    .option('--inconclusive <wait|pause>', 'analysis: what too few requests do')
    .option('--detach', 'do not follow the rollout')
    .action(async (release: string | undefined, o: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(o as { project?: string; service?: string });
      const steps = (o.step as string[]).map(Number);
      if (!steps.length) throw new UsageError('give at least one --step <percent>');
      const pin = { ...(o.pinHeader ? { header: pair('--pin-header', String(o.pinHeader)) } : {}), ...(o.pinCookie ? { cookie: pair('--pin-cookie', String(o.pinCookie)) } : {}) };
      const num = (k: string) => (o[k] === undefined ? undefined : Number(o[k]));
      const metrics = [
        ...(o.maxErrorRate !== undefined || o.errorRateAboveStable !== undefined ? [{ name: 'errorRate', max: num('maxErrorRate'), maxAboveStable: num('errorRateAboveStable') }] : []),
        ...(o.maxP50 !== undefined ? [{ name: 'latencyP50', max: num('maxP50') }] : []),
        ...(o.maxP99 !== undefined || o.p99AboveStable !== undefined ? [{ name: 'latencyP99', max: num('maxP99'), maxAboveStable: num('p99AboveStable') }] : []),
      ];
      const analysis = metrics.length ? { metrics, interval: num('interval'), minRequests: num('minRequests'), failureLimit: num('failureLimit'), inconclusive: o.inconclusive } : undefined;
      const body = {
        ...(release !== undefined ? { release: Number(release.replace(/^v/, '')) } : {}),
        strategy: 'canary',
        canary: { steps: steps.map((trafficPercent) => ({ trafficPercent, ...(Object.keys(pin).length ? { pin } : {}) })), ...(analysis ? { analysis: JSON.parse(JSON.stringify(analysis)) } : {}) },
      };
      const baseline = latestRolloutNumber(await listRollouts(s.client, ref.project, ref.service));
      const started = await s.client.json<{ number: number }>('POST', `${servicePaths(ref.project, ref.service).native}/rollouts`, { body });
      if (o.detach) return s.json ? s.out.json(started) : s.out.line(`Rollout ${started.number} started (after ${baseline}).`);
      const svc = await getService(s.client, ref);
      const outcome = await followRollout(s.client, ref.project, ref.service, started.number, { out: s.out, stream: s.progressStream, color: s.progressColor, wantWeb: svc.deployment?.instances ?? 1 });
      await reportOutcome(s, ref, outcome, { response: started });
    });
  for (const verb of ['continue', 'cancel'] as const) {
    canary
      .command(`${verb} <rollout>`)
      .description(verb === 'continue' ? 'continue a paused canary to its next step' : 'cancel a canary: the service returns to the release it came from')
      .option('-p, --project <project>', 'project id')
      .option('-s, --service <service>', 'service id')
      .action(async (n: string, o: { project?: string; service?: string }, cmd: Command) => {
        const s = sessionOf(cmd);
        const ref = requireService(o);
        const res = await s.client.json<{ number: number; status: string }>('POST', `${servicePaths(ref.project, ref.service).native}/rollouts/${Number(n)}/${verb}`, {});
        if (s.json) return s.out.json(res);
        s.out.line(`Rollout ${res.number}: ${verb === 'continue' ? 'continued' : 'canceled'} (${res.status}).`);
      });
  }
}
