/** `slipway logs [-f]`: the instances' output, each line prefixed with its instance; -f keeps polling. */
import type { Command } from 'commander';
import { colourFor } from '../output.ts';
import { sleep } from '../rollout-progress.ts';
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

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('print recent output of every instance; -f follows')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('-f, --follow', 'keep printing new lines (polls every second)')
    .option('-n, --tail <lines>', 'how many recent lines', '200')
    .option('--timestamps', 'print each line with its time')
    .action(async (opts: { project?: string; service?: string; follow?: boolean; tail: string; timestamps?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const tail = intArg('--tail', opts.tail, 1, 10000);
      const url = `${servicePaths(ref.project, ref.service).native}/logs`;
      const print = (l: LogLine) => {
        if (s.json) return s.out.line(JSON.stringify(l));
        const who = s.out.paint(colourFor(l.instance), `[${l.instance}]`);
        const time = opts.timestamps ? `${s.out.paint('gray', l.ts)} ` : '';
        s.out.line(`${time}${who} ${l.stream === 'stderr' ? s.out.paint('red', l.line) : l.line}`);
      };
      const first = await s.client.get<{ lines: LogLine[] }>(url, { tail });
      if (s.json && !opts.follow) return s.out.json(first);
      first.lines.forEach(print);
      if (!opts.follow) return;
      // Each poll returns the newest lines; print those the previous poll had not returned. The window is
      // wider than what a second of output usually holds, so nothing is skipped between polls.
      let seen = new Set(first.lines.map(keyOf));
      let stop = false;
      process.once('SIGINT', () => (stop = true));
      while (!stop) {
        await sleep(1000);
        let lines: LogLine[];
        try {
          lines = (await s.client.get<{ lines: LogLine[] }>(url, { tail: Math.max(tail, 1000) })).lines;
        } catch (err) {
          process.stderr.write(`(logs: ${(err as Error).message}; retrying)\n`);
          continue;
        }
        for (const l of lines) if (!seen.has(keyOf(l))) print(l);
        seen = new Set(lines.map(keyOf));
      }
    });
}
