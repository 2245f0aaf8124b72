/**
 * What the control plane and the built-in router process say to each other over the router's unix socket
 * (`<dataDir>/router/builtin-router.sock`): one JSON object per line, each way.
 *
 * control plane → router: `table` (the whole routing table, numbered), `stop` (drain, close, exit).
 * router → control plane: `hello` (on connect: its pid and the options it runs with, the ports it bound and
 * the table it serves), `applied` (a table is served: the TCP ports it holds and the requests in flight per
 * endpoint, counted after the swap), `load` (in-flight counts, every 50 ms while any changes), `access` (an
 * access-log entry, when the options ask for them).
 */
import type { AccessLogEntry, RoutingTable } from '../table.ts';
import type { TcpPortRange } from '../tcp-ports.ts';
import path from 'node:path';

/** How the router process runs; a process running other options is not adopted but replaced. */
export interface RouterProcessOptions {
  host: string;
  port: number;
  tlsPort?: number;
  metricsPort?: number;
  tcpPorts?: TcpPortRange;
  domain?: string;
  dataDir: string;
  accessLog: boolean;
  logLevel: string;
  /** upstream response-headers timeout (NodeRouter's default when unset) */
  upstreamTimeoutMs?: number;
}

export type ToRouter = { type: 'table'; seq: number; table: RoutingTable } | { type: 'stop' };

export interface Address {
  httpPort: number;
  httpsPort?: number;
  metricsPort?: number;
}

export type FromRouter =
  | { type: 'hello'; pid: number; options: RouterProcessOptions; address: Address; table: RoutingTable; seq: number }
  | { type: 'applied'; seq: number; tcpPorts: [string, number][]; inFlight: [string, number][] }
  | { type: 'load'; inFlight: [string, number][] }
  | { type: 'access'; entry: AccessLogEntry };

export function processFiles(dataDir: string) {
  const dir = path.resolve(dataDir, 'router');
  return {
    dir,
    socket: path.join(dir, 'builtin-router.sock'),
    pidFile: path.join(dir, 'builtin-router.pid'),
    logFile: path.join(dir, 'builtin-router.log'),
    optionsFile: path.join(dir, 'builtin-router.json'),
  };
}

export function sameOptions(a: RouterProcessOptions, b: RouterProcessOptions): boolean {
  const norm = (o: RouterProcessOptions) => JSON.stringify([o.host, o.port, o.tlsPort ?? null, o.metricsPort ?? null, o.tcpPorts ?? null, o.domain ?? null, path.resolve(o.dataDir), o.accessLog, o.upstreamTimeoutMs ?? null]);
  return norm(a) === norm(b);
}

/** Splits a socket's bytes into JSON messages, one a line. */
export function messageReader<T>(onMessage: (m: T) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      try {
        onMessage(JSON.parse(line) as T);
      } catch {
        // not a message
      }
    }
  };
}
