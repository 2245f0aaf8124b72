/**
 * One probe attempt, Kubernetes semantics: HTTP passes on 2xx/3xx, TCP on connect, CMD on exit 0.
 * Every attempt is bounded by its timeout and resolves (never throws) with a result and a reason.
 */
import net from 'node:net';
import http from 'node:http';

export interface CheckResult {
  ok: boolean;
  /** why it failed, e.g. "HTTP 500 on /health", "connect ECONNREFUSED", "exit 1" */
  error?: string;
}

export function checkTcp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: CheckResult) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ ok: false, error: `TCP connect to port timed out after ${timeoutMs} ms` }));
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
      resolve(r);
    };
    // A fresh connection per attempt (agent: false): a probe must see the instance as a new client would.
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'slipway-probe', connection: 'close' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      done(code >= 200 && code < 400 ? { ok: true } : { ok: false, error: `HTTP ${code} on ${path}` });
    });
    req.on('timeout', () => {
      req.destroy();
      done({ ok: false, error: `HTTP ${path} timed out after ${timeoutMs} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `HTTP ${path}: ${err.code ?? err.message}` }));
  });
}
