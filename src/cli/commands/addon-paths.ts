/** What the `addons` commands share: an addon's `/v1` path and polling until an outcome. */
import { projectPath } from '../service-ref.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function addonPath(project: string, addon: string): string {
  return `${projectPath(project)}/addons/${encodeURIComponent(addon)}`;
}

/** Poll until `done` says so, or the deadline passes (then the last value is returned as it was). */
export async function until<T>(fetch: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await fetch();
  while (!done(v) && Date.now() < deadline) {
    await sleep(1000);
    v = await fetch();
  }
  return v;
}
