/** The live split of a canary in progress, as the CLI prints it while following (`GET …/rollouts/{n}`). */

/** One line for the live split and per-release metrics of a canary in progress (shown under the bars). */
export function trafficLine(t: { split: { percent: number; effectivePercent: number } | null; releases: { release: number; requests: number; errorRate: number; latencyP99Ms: number | null }[] } | undefined): string | undefined {
  if (!t?.split) return undefined;
  const rel = t.releases.map((r) => `r${r.release}: ${r.requests} req, ${r.errorRate}% 5xx, p99 ${r.latencyP99Ms ?? 'n/a'} ms`).join(' · ');
  return `traffic: ${t.split.percent}% to the new release (router ${t.split.effectivePercent}%)${rel ? ` · last minute ${rel}` : ''}`;
}
