/**
 * Router ports for `TCP` routes, from a configured range, stable per route key and kept across restarts
 * in `<dataDir>/router/tcp-ports.json`:
 * ```
 * { "version": 1, "ports": { "<route key>": { "port": 20000 }, "<gone key>": { "port": 20001, "releasedAt": 1700000000000 } } }
 * ```
 * A route that leaves the table keeps its port (released), so a service that comes back gets the same one;
 * a released port is handed to another route only when the range has no never-used port left, oldest
 * release first. A new port is taken only if it can be bound now, so a port some other program holds is
 * skipped instead of breaking the data plane's listeners.
 */
import fs from 'node:fs';
import path from 'node:path';
import { portFree } from '../net/port-free.ts';

export interface TcpPortRange {
  from: number;
  to: number;
}

interface Allocation {
  port: number;
  /** ms since the epoch; unset while the route is in the table */
  releasedAt?: number;
}

export class TcpPortAllocator {
  private readonly byKey = new Map<string, Allocation>();

  constructor(
    private readonly file: string,
    private readonly range: TcpPortRange,
    private readonly bindHost: string,
    private readonly logger?: { warn(o: object, m: string): void },
  ) {
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { ports?: Record<string, Allocation> };
      for (const [key, a] of Object.entries(saved.ports ?? {})) {
        // A port outside the (possibly changed) range is forgotten; the route gets a new one.
        if (Number.isInteger(a?.port) && a.port >= range.from && a.port <= range.to) this.byKey.set(key, { port: a.port, ...(a.releasedAt ? { releasedAt: a.releasedAt } : {}) });
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger?.warn({ file, err: (err as Error).message }, 'TCP port allocations unreadable; starting afresh');
    }
  }

  /** The port of a route in the table (not a released one). */
  portOf(routeKey: string): number | undefined {
    const a = this.byKey.get(routeKey);
    return a && !a.releasedAt ? a.port : undefined;
  }

  /**
   * Makes `routeKeys` the routes in the table: each keeps its port or gets one; the others are released.
   * Returns the ports by key; a key missing from the answer found no port (range exhausted, logged).
   * Persists any change before resolving. Not reentrant: callers serialise their calls.
   */
  async assign(routeKeys: Iterable<string>): Promise<Map<string, number>> {
    const wanted = new Set(routeKeys);
    let changed = false;
    const now = Date.now();
    for (const [key, a] of this.byKey) {
      if (wanted.has(key) && a.releasedAt) {
        delete a.releasedAt;
        changed = true;
      } else if (!wanted.has(key) && !a.releasedAt) {
        a.releasedAt = now;
        changed = true;
      }
    }
    const out = new Map<string, number>();
    const taken = new Set([...this.byKey.values()].map((a) => a.port));
    let next = this.range.from;
    for (const key of wanted) {
      const had = this.byKey.get(key);
      if (had) {
        out.set(key, had.port);
        continue;
      }
      let port: number | undefined;
      for (; next <= this.range.to && port === undefined; next++) if (!taken.has(next) && (await portFree(this.bindHost, next))) port = next;
      if (port === undefined) {
        // Range exhausted: take over the port released longest ago.
        const released = [...this.byKey].filter(([, a]) => a.releasedAt).sort((x, y) => x[1].releasedAt! - y[1].releasedAt!);
        for (const [oldKey, a] of released) {
          if (!(await portFree(this.bindHost, a.port))) continue;
          this.byKey.delete(oldKey);
          port = a.port;
          break;
        }
      }
      if (port === undefined) {
        this.logger?.warn({ route: key, range: `${this.range.from}-${this.range.to}` }, 'no free router port for a TCP route: widen SLIPWAY_ROUTER_TCP_PORTS');
        continue;
      }
      taken.add(port);
      this.byKey.set(key, { port });
      out.set(key, port);
      changed = true;
    }
    if (changed) this.save();
    return out;
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ version: 1, ports: Object.fromEntries(this.byKey) }, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }
}

export function tcpPortsFile(dataDir: string): string {
  return path.join(dataDir, 'router', 'tcp-ports.json');
}

