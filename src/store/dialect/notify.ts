/**
 * PostgreSQL LISTEN/NOTIFY for control-plane replicas (docs/high-availability.md): a nudge that something in
 * the store changed, so other replicas read it now rather than at their next poll. A nudge carries no data
 * and may be lost (a connection drop); readers always poll as well, so a lost one only delays.
 */
import pg from 'pg';

export interface Notifier {
  /** Calls `onNotify` for every NOTIFY on `channel` (from any replica, this one included). */
  listen(channel: string, onNotify: (payload: string) => void): void;
  /** Sends a NOTIFY on `channel`; errors are reported to `onError`, never thrown. */
  notify(channel: string, payload?: string): void;
  close(): Promise<void>;
}

export function openNotifier(url: string, onError: (err: Error) => void): Notifier {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let client: pg.Client | undefined;
  let closed = false;
  let connecting: Promise<pg.Client | undefined> | undefined;
  const connect = (): Promise<pg.Client | undefined> =>
    (connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('notification', (m) => {
        for (const h of handlers.get(m.channel) ?? []) h(m.payload ?? '');
      });
      // A dropped connection: reconnect after a pause and listen again (polling covers the gap).
      c.on('error', (err) => {
        onError(err);
        if (client === c) client = undefined;
        connecting = undefined;
        c.end().catch(() => {});
        if (!closed) setTimeout(() => void connect(), 1000).unref();
      });
      try {
        await c.connect();
        for (const ch of handlers.keys()) await c.query(`LISTEN ${ident(ch)}`);
        client = c;
        return c;
      } catch (err) {
        onError(err as Error);
        connecting = undefined;
        c.end().catch(() => {});
        if (!closed) setTimeout(() => void connect(), 1000).unref();
        return undefined;
      }
    })());
  // One query at a time on the connection: pg queues concurrent ones itself today, warns that it will not.
  let queue: Promise<unknown> = Promise.resolve();
  const run = (c: pg.Client, text: string, values?: unknown[]) => {
    queue = queue.then(() => c.query(text, values)).catch(onError);
  };
  void connect();
  return {
    listen(channel, onNotify) {
      const set = handlers.get(channel) ?? new Set();
      const isNew = !handlers.has(channel);
      handlers.set(channel, set.add(onNotify));
      if (isNew && client) run(client, `LISTEN ${ident(channel)}`);
    },
    notify(channel, payload = '') {
      void connect().then((c) => c && run(c, 'SELECT pg_notify($1, $2)', [channel, payload]));
    },
    async close() {
      closed = true;
      await client?.end().catch(() => {});
    },
  };
}

function ident(channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name '${channel}'`);
  return channel;
}
