/**
 * One probe attempt, Kubernetes semantics: HTTP passes on 2xx/3xx, TCP on connect, CMD on exit 0.
 * Every attempt is bounded by its timeout (of time the probing process could watch) and resolves (never throws)
 * with a result and a reason.
 */
import net from 'node:net';
import http from 'node:http';

export interface CheckResult {
  ok: boolean;
  /** why it failed, e.g. "HTTP 500 on /health", "connect ECONNREFUSED", "exit 1" */
  error?: string;
}

/** Stalls of the probing process a timeout forgives, each up to the timeout's length (see `deadline`). */
const STALLS_FORGIVEN = 2;

/**
 * Calls `onTimeout` once `ms` have passed while the process could watch: a timer that fires late by more than a
 * quarter of its length means this process's event loop was stalled (by its own work, or a busy machine), so
 * whatever the instance answered may not have been read yet. The attempt then gets its time again, at most
 * STALLS_FORGIVEN times: a probe judges the instance, not a pause of the process probing it. Returns the
 * function that cancels it.
 */
export function deadline(ms: number, onTimeout: () => void): () => void {
  let timer: NodeJS.Timeout;
  let forgiven = 0;
  const arm = () => {
    const due = performance.now() + ms;
    timer = setTimeout(() => {
      if (performance.now() - due > ms / 4 && forgiven++ < STALLS_FORGIVEN) arm();
      else onTimeout();
    }, ms);
  };
  arm();
  return () => clearTimeout(timer);
}

export function checkTcp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: CheckResult) => {
      cancel();
      sock.destroy();
      resolve(r);
    };
    const cancel = deadline(timeoutMs, () => done({ ok: false, error: `TCP connect to port timed out after ${timeoutMs} ms` }));
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `connect ${err.code ?? err.message}` }));
  });
}

export function checkHttp(host: string, port: number, path: string, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      cancel();
      resolve(r);
    };
    // A fresh connection per attempt (agent: false): a probe must see the instance as a new client would.
    const req = http.get({ host, port, path, agent: false, headers: { 'user-agent': 'slipway-probe', connection: 'close' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      done(code >= 200 && code < 400 ? { ok: true } : { ok: false, error: `HTTP ${code} on ${path}` });
    });
    const cancel = deadline(timeoutMs, () => {
      req.destroy();
      done({ ok: false, error: `HTTP ${path} timed out after ${timeoutMs} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `HTTP ${path}: ${err.code ?? err.message}` }));
  });
}
