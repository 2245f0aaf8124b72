/**
 * The Prometheus text exposition format (version 0.0.4), both ways: a parser for what the router serves
 * (and for tests of what slipway serves), and a writer for the control plane's own `/metrics`.
 * Only what the format's samples need: `# HELP`/`# TYPE` lines are kept as metadata, timestamps ignored.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromDocument {
  samples: PromSample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type ParseOptions = { only?: ReadonlySet<string> };

function emptyDocument(): PromDocument {
  return { samples: [], types: new Map(), help: new Map() };
}

/**
 * Parses a text exposition; throws on a malformed line, naming its number (tests rely on the strictness).
 * `only`: the metric names wanted; other samples are skipped unread (HAProxy's exporter has dozens of families
 * per backend, and a reader of four would otherwise parse every label of a thousand backends' worth).
 */
export function parsePromText(text: string, opts: ParseOptions = {}): PromDocument {
  const doc = emptyDocument();
  parseLines(text, doc, opts, 0);
  return doc;
}

/**
 * The same, read from a response body chunk by chunk: each chunk's whole lines are parsed in a turn of the
 * event loop of their own, so a document megabytes long (the router's metrics at a thousand backends) is never
 * one long task that every request waits behind.
 */
export async function readPromText(chunks: AsyncIterable<Uint8Array>, opts: ParseOptions = {}): Promise<PromDocument> {
  const doc = emptyDocument();
  const decoder = new TextDecoder();
  let carry = '';
  let lineNo = 0;
  for await (const chunk of chunks) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const last = text.lastIndexOf('\n');
    if (last < 0) {
      carry = text;
      continue;
    }
    lineNo = parseLines(text.slice(0, last), doc, opts, lineNo);
    carry = text.slice(last + 1);
    await new Promise((resolve) => setImmediate(resolve));
  }
  parseLines(carry + decoder.decode(), doc, opts, lineNo);
  return doc;
}

/**
 * The samples named in `only` of the document at `url`, read as its body arrives (readPromText): a router's
 * metrics at a thousand backends are megabytes, of which a reader wants a few families.
 */
export async function fetchPromDocument(url: string, only: ReadonlySet<string>, timeoutMs = 5000): Promise<PromDocument> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  return readPromText(res.body, { only });
}

/** Parses whole lines into `doc`; `first` is the number of lines before them. Returns the count after them. */
function parseLines(text: string, doc: PromDocument, opts: ParseOptions, first: number): number {
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const n = first + k;
    const line = lines[k].trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m) (m[1] === 'HELP' ? doc.help : doc.types).set(m[2], m[3]);
      continue;
    }
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    if (opts.only && !opts.only.has(line.slice(0, brace >= 0 && (space < 0 || brace < space) ? brace : space < 0 ? line.length : space))) continue;
    let name: string;
    let rest: string;
    const labels: Record<string, string> = {};
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      let i = brace + 1;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0) throw new Error(`line ${n + 1}: label without '='`);
        const key = line.slice(i, eq).trim();
        if (!LABEL.test(key)) throw new Error(`line ${n + 1}: bad label name '${key}'`);
        if (line[eq + 1] !== '"') throw new Error(`line ${n + 1}: label value not quoted`);
        let j = eq + 2;
        let value = '';
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\') {
            const c = line[++j];
            value += c === 'n' ? '\n' : c;
          } else value += line[j];
        }
        if (j >= line.length) throw new Error(`line ${n + 1}: unterminated label value`);
        labels[key] = value;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      if (line[i] !== '}') throw new Error(`line ${n + 1}: unterminated label set`);
      rest = line.slice(i + 1).trim();
    } else {
      if (space < 0) throw new Error(`line ${n + 1}: sample without a value`);
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    if (!NAME.test(name)) throw new Error(`line ${n + 1}: bad metric name '${name}'`);
    const raw = rest.split(/\s+/)[0];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (raw === '' || (Number.isNaN(value) && raw !== 'NaN')) throw new Error(`line ${n + 1}: bad value '${raw}'`);
    doc.samples.push({ name, labels, value });
  }
  return first + lines.length;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Writes metric families in the text format; samples of one family stay together under its HELP/TYPE. */
export class PromWriter {
  private readonly out: string[] = [];

  family(name: string, type: 'gauge' | 'counter' | 'summary' | 'histogram', help: string, samples: { labels: Record<string, string>; value: number; suffix?: string }[]): void {
    if (samples.length === 0) return;
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      this.out.push(`${name}${s.suffix ?? ''}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }

  text(): string {
    return this.out.length ? `${this.out.join('\n')}\n` : '';
  }
}

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
}
