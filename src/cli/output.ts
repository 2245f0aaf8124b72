/**
 * How the CLI writes: human tables by default, the API's JSON with `--json`, colour only on a TTY and
 * never with `NO_COLOR` (https://no-color.org) or `--no-color`.
 */

export interface OutputOptions {
  json: boolean;
  color: boolean;
}

export function colorEnabled(flag: boolean | undefined, stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY);
}

const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
export type Style = keyof typeof CODES;

export class Out {
  constructor(readonly opts: OutputOptions) {}

  paint(style: Style, text: string): string {
    return this.opts.color ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text;
  }

  line(text = ''): void {
    process.stdout.write(text + '\n');
  }

  /** Progress and notes go to stderr, so stdout stays the command's result (and parseable with --json). */
  note(text: string): void {
    process.stderr.write(text + '\n');
  }

  json(value: unknown): void {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** A plain aligned table; cells are strings already (padding ignores colour codes). */
  table(headers: string[], rows: (string | number | boolean | null | undefined)[][]): void {
    const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => visibleLength(r[i] ?? ''))));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - visibleLength(c))))
        .join('  ')
        .trimEnd();
    this.line(this.paint('bold', fmt(headers.map((h) => h.toUpperCase()))));
    for (const r of cells) this.line(fmt(r));
    if (!rows.length) this.line(this.paint('dim', '(none)'));
  }

  /** Key/value lines for one object. */
  fields(pairs: [string, unknown][]): void {
    const w = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${this.paint('bold', (k + ':').padEnd(w + 1))} ${v === undefined || v === null || v === '' ? '-' : String(v)}`);
  }
}

export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

const INSTANCE_COLOURS: Style[] = ['cyan', 'magenta', 'green', 'yellow', 'blue', 'red'];

/** A stable colour per instance id, so interleaved log lines stay readable. */
export function colourFor(id: string): Style {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return INSTANCE_COLOURS[h % INSTANCE_COLOURS.length];
}

export function ago(iso: string | number | undefined | null, now = Date.now()): string {
  if (iso === undefined || iso === null || iso === '') return '-';
  const t = typeof iso === 'number' ? (iso < 1e12 ? iso * 1000 : iso) : Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
