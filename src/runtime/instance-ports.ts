/**
 * Ports for instances (and addon servers) on this machine. They come from below the kernel's ephemeral range
 * (32768 and up by default), so a port handed out cannot be taken meanwhile by an outgoing connection or
 * another program's `listen(0)`: a foreign listener on it would pass the default readiness check ("the port
 * accepts") and take the instance's traffic. A port handed out stays reserved in this process for a minute,
 * time for its app to bind it.
 */
import { portFree } from '../net/port-free.ts';

export const INSTANCE_PORTS = { from: 21000, to: 32767 };
const RESERVED_MS = 60_000;
const reserved = new Map<number, number>();

/** A port nothing listens on at `host` now, not handed out in the last minute and not in `taken`. */
export async function allocateInstancePort(host = '127.0.0.1', taken: ReadonlySet<number> = new Set()): Promise<number> {
  const now = Date.now();
  for (const [port, at] of reserved) if (now - at > RESERVED_MS) reserved.delete(port);
  const size = INSTANCE_PORTS.to - INSTANCE_PORTS.from + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = INSTANCE_PORTS.from + ((start + i) % size);
    if (reserved.has(port) || taken.has(port)) continue;
    if (await portFree(host, port)) {
      reserved.set(port, Date.now());
      return port;
    }
  }
  throw new Error(`no free instance port in ${INSTANCE_PORTS.from}-${INSTANCE_PORTS.to}`);
}
