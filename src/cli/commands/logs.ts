/**
 * `slipway logs [-f] [--search text] [--since 15m|time] [--until time] [--instance id]`: the instances'
 * output, each line prefixed with its instance; -f follows the live stream (Server-Sent Events) and
 * reconnects when it drops, without printing a line twice.
 */
import type { Command } from 'commander';
import { colourFor } from '../output.ts';
import { sleep } from '../rollout-progress.ts';
import { readEventStream } from '../event-stream.ts';
import { requireService, servicePaths } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { intArg } from './projects.ts';

interface LogLine {
  instance: string;
  ts: string;
  stream: string;
  line: string;
}

const keyOf = (l: LogLine) => `${l.instance}\0${l.ts}\0${l.stream}\0${l.line}`;

interface LogsOptions {
  project?: string;
  service?: string;
  follow?: boolean;
  tail: string;
  timestamps?: boolean;
  search?: string;
  since?: string;
  until?: string;
  instance?: string;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('print the output of every instance (newest lines), filtered by text, time and instance; -f follows')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('-f, --follow', 'keep printing new lines as they are written (a live stream)')
    .option('-n, --tail <lines>', 'how many recent lines', '200')
    .option('--search <text>', 'only lines containing this text (case-insensitive)')
    .option('--since <time>', 'only lines since a time (RFC 3339) or a duration back from now (90s, 15m, 2h, 7d)')
    .option('--until <time>', 'only lines until a time (not with -f)')
    .option('--instance <id>', 'only lines of this instance (its id, or the ordinal-and-hash end of it)')
    .option('--timestamps', 'print each line with its time')
    .action(async (opts: LogsOptions, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const tail = intArg('--tail', opts.tail, 1, 10000);
      const base = `${servicePaths(ref.project, ref.service).native}/logs`;
      const filters = { search: opts.search, since: opts.since, instance: opts.instance };
      const print = (l: LogLine) => {
        if (s.json) return s.out.line(JSON.stringify(l));
        const who = s.out.paint(colourFor(l.instance), `[${l.instance}]`);
        const time = opts.timestamps ? `${s.out.paint('gray', l.ts)} ` : '';
        s.out.line(`${time}${who} ${l.stream === 'stderr' ? s.out.paint('red', l.line) : l.line}`);
      };
      if (!opts.follow) {
        const body = await s.client.get<{ lines: LogLine[] }>(base, { tail, ...filters, until: opts.until });
        if (s.json) return s.out.json(body);
        body.lines.forEach(print);
        return;
      }
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      // After a drop, the stream starts again with its newest lines: those already printed are skipped.
      const printed = new Set<string>();
      let first = true;
      while (!abort.signal.aborted) {
        try {
          const res = await s.client.send('GET', `${base}/stream`, { query: { tail: first ? tail : 1000, ...filters }, accept: 'text/event-stream', signal: abort.signal });
          first = false;
          for await (const frame of readEventStream(res.body!)) {
            if (frame.event === 'dropped') process.stderr.write(`(logs: ${JSON.parse(frame.data).lines} lines dropped: this terminal reads slower than the service writes)\n`);
            if (frame.event !== 'line') continue;
            const l = JSON.parse(frame.data) as LogLine;
            const k = keyOf(l);
            if (printed.has(k)) continue;
            printed.add(k);
            if (printed.size > 20_000) printed.delete(printed.values().next().value as string);
            print(l);
          }
        } catch (err) {
          if (abort.signal.aborted) break;
          // A refused request (bad filter, unknown service) will not get better by retrying.
          if ((err as { status?: number }).status && (err as { status: number }).status < 500) throw err;
          process.stderr.write(`(logs: ${(err as Error).message}; reconnecting)\n`);
        }
        if (!abort.signal.aborted) await sleep(1000);
      }
    });
}
