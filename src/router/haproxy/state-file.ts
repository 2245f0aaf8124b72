/**
 * The HAProxy router's saved model (`router-state.json`, 0600: access rules hold password hashes): the
 * ports HAProxy listens on, the table it serves and its backends with their slots, written after
 * passes (at most 5 % of the event loop's time, see StateSaver). A restarted control plane adopts the HAProxy left running with it (see haproxy-router.ts).
 */
import fs from 'node:fs';
import { cachedJson, type RoutingTable } from '../table.ts';
import type { Backend } from './slots.ts';
import { NewestFileWriter } from '../../files/newest-file-writer.ts';

const VERSION = 1;
/** The share of the event loop saving the model may take (see NewestFileWriter). */
const STATE_SAVE_LOOP_SHARE = 0.05;

export interface RouterState {
  host: string;
  port: number;
  tlsPort?: number;
  metricsPort?: number;
  /** the table the backends were made from */
  table: RoutingTable;
  backends: Backend[];
  hosts: [string, string][];
  sni: [string, string][];
  /** the last spare backend number used (spares.ts): a restarted router never declares one twice */
  spareSeq?: number;
}

/** The model as the file holds it; `cache` keeps the JSON of its routes and backends by object (cachedJson). */
export function renderState(state: RouterState, cache: WeakMap<object, string> = new WeakMap()): string {
  const json = (o: object) => cachedJson(cache, o);
  const { table, backends, ...rest } = state;
  const head = JSON.stringify({ version: VERSION, ...rest });
  return `${head.slice(0, -1)},"table":{"routes":[${table.routes.map(json).join(',')}]},"backends":[${backends.map(json).join(',')}]}`;
}

/** The saved model, or undefined when there is none or it is not one this version wrote. */
export function readState(file: string): RouterState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as RouterState & { version?: number };
    if (s.version !== VERSION || !Array.isArray(s.backends) || !Array.isArray(s.table?.routes) || !Number.isInteger(s.port)) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

/** Saves the model after passes (off the event loop, see NewestFileWriter), keeping what it rendered last. */
export class StateSaver {
  /** JSON of the routes and backends in the saved model, by object (see renderState) */
  readonly stateJson = new WeakMap<object, string>();
  private readonly writer: NewestFileWriter;
  /** the table the saved model was written with */
  savedTable?: RoutingTable;

  constructor(file: string, onError: (err: Error) => void) {
    // At 10,000 servers the model is megabytes: saved after every pass it took a tenth of the control plane's
    // time under a stream of rollouts. A restarted control plane reloads HAProxy with whatever model it reads.
    this.writer = new NewestFileWriter(file, { mode: 0o600, onError, loopShare: STATE_SAVE_LOOP_SHARE });
  }

  save(state: RouterState): void {
    this.savedTable = state.table;
    // Rendered when written: of the models handed over while one is written only the newest is rendered.
    this.writer.write(() => renderState(state, this.stateJson));
  }

  /** Resolves once the newest model handed over is in the file (or its write failed). */
  flush(): Promise<void> {
    return this.writer.flush();
  }
}
