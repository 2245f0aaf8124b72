/**
 * Follows one rollout to its end with live progress: the rollout's events arrive as Server-Sent Events
 * (`GET …/rollouts/{n}/events`, `Accept: text/event-stream`; the stream ends with an `end` event carrying
 * the final status), and the instances are sampled from `/v1/…/containers` to draw, per process type,
 * how many old and new instances run and how many new ones are ready.
 *
 * On a terminal the bars are redrawn in place under the event lines; elsewhere (CI, pipes) each event is
 * a line and a bar is printed only when its counts change.
 */
import type { ApiClient } from './api-client.ts';
import { readEventStream } from './event-stream.ts';
import type { Out } from './output.ts';
import { servicePaths } from './service-ref.ts';
import { trafficLine } from './canary-traffic-line.ts';

export interface RolloutView {
  id: string;
  number: number;
  kind: string;
  strategy: string;
  status: string;
  message: string | null;
  fromRelease: number | null;
  toRelease: number | null;
  createdAt: string;
  finishedAt: string | null;
  events: { id: number; message: string; createdAt: string }[];
}

export interface Container {
  name: string;
  status: string;
  ready: boolean;
  release: number;
  restarts: number;
  lastExitCode: number | null;
  createdAt: number;
}

export interface RolloutOutcome {
  rollout: RolloutView;
  /** the rollout that takes the service back after a failure, if one started */
  returning?: RolloutView;
  ok: boolean;
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELED', 'SUPERSEDED', 'ABORTED']);

export async function listRollouts(client: ApiClient, project: string, service: string): Promise<RolloutView[]> {
  return ((await client.get<{ rollouts: RolloutView[] }>(`${servicePaths(project, service).native}/rollouts`)).rollouts ?? []);
}

export async function listContainers(client: ApiClient, project: string, service: string): Promise<Container[]> {
  return ((await client.get<{ data: { containers: Container[] } }>(`${servicePaths(project, service).v1}/containers`)).data.containers ?? []);
}

/** The process type of an instance named `<project>--<service>--<type>-r<release>-<ordinal>-<hash>`. */
export function processTypeOf(name: string, project: string, service: string): string {
  const prefix = `${project}--${service}--`;
  const rest = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  return /^(.+)-r\d+-\d+-[0-9a-f]+$/.exec(rest)?.[1] ?? 'web';
}

export interface TypeProgress {
  type: string;
  want: number;
  newCount: number;
  newReady: number;
  old: number;
  stopping: number;
}

export function summarise(containers: Container[], toRelease: number | null, project: string, service: string, wantWeb: number): TypeProgress[] {
  const by = new Map<string, TypeProgress>();
  const of = (type: string) => {
    let p = by.get(type);
    if (!p) by.set(type, (p = { type, want: type === 'web' ? wantWeb : 0, newCount: 0, newReady: 0, old: 0, stopping: 0 }));
    return p;
  };
  of('web');
  for (const c of containers) {
    const p = of(processTypeOf(c.name, project, service));
    const stopping = c.status === 'TASK_KILLING';
    if (c.release === toRelease && !stopping) {
      p.newCount++;
      if (c.ready) p.newReady++;
    } else {
      p.old++;
      if (stopping) p.stopping++;
    }
  }
  for (const p of by.values()) if (p.type !== 'web') p.want = Math.max(p.want, p.newCount);
  return [...by.values()];
}

export function bar(ready: number, want: number, width = 20): string {
  const frac = want > 0 ? Math.min(1, ready / want) : 1;
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function progressLine(p: TypeProgress): string {
  const oldPart = p.old ? `, old ${p.old}${p.stopping ? ` (${p.stopping} stopping)` : ''}` : '';
  return `${p.type.padEnd(6)} ${bar(p.newReady, p.want)} ${p.newReady}/${p.want} ready (new ${p.newCount}${oldPart})`;
}

interface FollowOptions {
  out: Out;
  /** where progress goes: stdout normally, stderr when stdout carries --json */
  stream: NodeJS.WriteStream;
  color: boolean;
}

/** Draws events and bars; on a TTY it redraws the bar block in place. */
class ProgressView {
  private drawn = 0;
  private lastBars = '';
  private step = '';
  private readonly tty: boolean;

  constructor(private readonly o: FollowOptions) {
    this.tty = Boolean(o.stream.isTTY);
  }

  private paint(code: number, s: string): string {
    return this.o.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  private clear(): void {
    if (this.tty && this.drawn) this.o.stream.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  event(message: string, at: string): void {
    this.step = message;
    this.clear();
    const time = new Date(at).toLocaleTimeString('en-GB', { hour12: false });
    this.o.stream.write(`${this.paint(90, time)}  ${message}\n`);
    if (this.tty) this.redraw(this.lastBars.split('\n').filter(Boolean), true);
  }

  bars(lines: string[]): void {
    this.redraw(lines, false);
  }

  private redraw(lines: string[], force: boolean): void {
    const text = lines.join('\n');
    if (!this.tty) {
      if (text !== this.lastBars) this.o.stream.write(lines.map((l) => `  ${l}`).join('\n') + '\n');
      this.lastBars = text;
      return;
    }
    if (!force && text === this.lastBars && this.drawn) return;
    this.clear();
    const cols = this.o.stream.columns || 100;
    const block = [...lines.map((l) => this.paint(36, l)), this.step ? this.paint(2, `step: ${this.step}`) : ''].filter(Boolean).map((l) => truncate(l, cols - 1));
    this.o.stream.write(block.join('\n') + '\n');
    this.drawn = block.length;
    this.lastBars = text;
  }

  done(): void {
    // Leave the last bars on screen, but stop owning those lines.
    this.drawn = 0;
  }
}

function truncate(s: string, cols: number): string {
  // eslint-disable-next-line no-control-regex
  const plain = s.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.length <= cols ? s : plain.slice(0, Math.max(10, cols - 1)) + '…';
}

/**
 * Follows rollout `number` until it ends. Resumes the event stream with `Last-Event-ID` if the connection
 * drops; if streaming is impossible it falls back to polling the JSON form of the same route.
 */
export async function followRollout(client: ApiClient, project: string, service: string, number: number, opts: FollowOptions & { wantWeb: number }): Promise<RolloutOutcome> {
  const paths = servicePaths(project, service);
  const rollouts = await listRollouts(client, project, service);
  const start = rollouts.find((r) => r.number === number);
  if (!start) throw new Error(`rollout ${number} not found`);
  const toRelease = start.toRelease;
  const view = new ProgressView(opts);
  const what = start.kind === 'return' ? 'return' : start.kind === 'rollback' ? 'rollback' : 'rollout';
  opts.stream.write(`Rollout ${number}: ${what} ${start.fromRelease ? `from release ${start.fromRelease} ` : ''}to release ${toRelease} (${start.strategy})\n`);

  let finished = false;
  let wantWeb = opts.wantWeb;
  const sample = async () => {
    try {
      const containers = await listContainers(client, project, service);
      // A canary in progress: its live split and per-release metrics under the bars.
      const live = start.strategy === 'canary' ? await client.get<{ canary?: { traffic?: Parameters<typeof trafficLine>[0] } }>(`${paths.native}/rollouts/${number}`).catch(() => undefined) : undefined;
      const traffic = trafficLine(live?.canary?.traffic);
      if (!finished) view.bars([...summarise(containers, toRelease, project, service, wantWeb).map(progressLine), ...(traffic ? [traffic] : [])]);
    } catch {
      // a missed sample only delays the next drawing
    }
  };
  const sampler = (async () => {
    while (!finished) {
      await sample();
      await sleep(500);
    }
  })();

  let lastId = 0;
  let status = start.status;
  let failures = 0;
  const eventsUrl = `${paths.native}/rollouts/${number}/events`;
  while (!TERMINAL.has(status)) {
    try {
      const res = await client.send('GET', eventsUrl, { accept: 'text/event-stream', headers: lastId ? { 'last-event-id': String(lastId) } : {} });
      const type = res.headers.get('content-type') ?? '';
      if (!type.includes('text/event-stream') || !res.body) {
        // A server (or proxy) that does not stream: poll the JSON answer instead.
        const body = (await res.json()) as { status: string; events: RolloutView['events'] };
        for (const e of body.events.filter((x) => x.id > lastId)) {
          view.event(e.message, e.createdAt);
          lastId = e.id;
        }
        status = body.status;
        if (!TERMINAL.has(status)) await sleep(1000);
        continue;
      }
      for await (const frame of readEventStream(res.body)) {
        if (frame.event === 'rollout') {
          const e = JSON.parse(frame.data) as { id: number; message: string; createdAt: string };
          view.event(e.message, e.createdAt);
          lastId = Number(frame.id ?? e.id) || e.id;
        } else if (frame.event === 'end') {
          status = (JSON.parse(frame.data) as { status: string }).status;
        }
      }
      failures = 0;
      if (!TERMINAL.has(status)) status = (await listRollouts(client, project, service)).find((r) => r.number === number)?.status ?? status;
    } catch (err) {
      if (++failures > 5) throw err;
      await sleep(1000 * failures);
    }
    try {
      wantWeb = (await client.get<{ data: { deployment?: { instances?: number } } }>(paths.v1)).data.deployment?.instances ?? wantWeb;
    } catch {}
  }

  finished = true;
  await sampler;
  // One last drawing with the final counts.
  const after = await listRollouts(client, project, service);
  const rollout = after.find((r) => r.number === number) ?? { ...start, status };
  const containers = await listContainers(client, project, service).catch(() => [] as Container[]);
  view.bars(summarise(containers, toRelease, project, service, wantWeb).map(progressLine));
  view.done();
  const returning = after.find((r) => r.number > number && r.kind === 'return');
  return { rollout, returning, ok: rollout.status === 'COMPLETED' };
}

/**
 * Waits for a rollout newer than `baseline` (the highest number seen before acting) that satisfies `match`;
 * undefined when none appears in time (e.g. the change made no new release).
 */
export async function awaitNewRollout(client: ApiClient, project: string, service: string, baseline: number, match: (r: RolloutView) => boolean = () => true, timeoutMs = 10_000): Promise<RolloutView | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await listRollouts(client, project, service)).filter((r) => r.number > baseline && match(r)).sort((a, b) => a.number - b.number)[0];
    if (found) return found;
    if (Date.now() > deadline) return undefined;
    await sleep(300);
  }
}

export function latestRolloutNumber(rollouts: RolloutView[]): number {
  return rollouts.reduce((m, r) => Math.max(m, r.number), 0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
