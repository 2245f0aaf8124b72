/**
 * HTTP requests: the route by Host, its access policies, an endpoint by its balancing (a canary's pinned
 * requests to the new release), then the request streamed to the endpoint, over a keep-alive pool for
 * HTTP/1.1 routes or an h2c session for `HTTP/2` ones; an idempotent request whose connection was refused
 * is retried once on another endpoint.
 */
import http from 'node:http';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { AccessLogEntry, Endpoint } from '../table.ts';
import { evaluate } from '../access.ts';
import { matchesPin } from '../split.ts';
import { pages } from './pages.ts';
import type { RouteMetrics } from './route-metrics.ts';
import type { InFlight } from './in-flight.ts';
import { accessRequest } from './access-request.ts';
import { hashKeyOf, lookup, originOf, type CompiledRoute } from './routes.ts';
import { HOP_BY_HOP, IDEMPOTENT, answer, authorityOf, hasBody, headerOf, isTls } from './request.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HttpProxyOptions {
  /** upstream response-headers timeout */
  upstreamTimeoutMs?: number;
  logger?: { debug(o: object, m: string): void; warn(o: object, m: string): void };
  /** structured access log: one entry per HTTP request, when set */
  accessLog?: (entry: AccessLogEntry) => void;
}

/** The router's ports, for X-Forwarded-Port when the socket does not tell. */
export interface RouterPorts {
  address(): { httpPort: number; httpsPort?: number };
}

export class HttpProxy {
  /** The HTTP routes of the current table, by host. */
  routes = new Map<string, CompiledRoute>();
  /** h2c sessions to the endpoints of `HTTP/2` routes, by origin. */
  private readonly h2Sessions = new Map<string, http2.ClientHttp2Session>();
  /** Keep-alive connection pools to the endpoints of HTTP/1.1 routes, by origin. */
  private readonly pools = new Map<string, Pool>();
  /** When the upstream's response headers arrived, for the response-time metric. */
  private readonly headersAt = new WeakMap<object, bigint>();
  /** for the access log: which instance answered a response, with which request id, and how many bytes */
  private readonly answeredBy = new WeakMap<object, { endpoint: string; requestId?: string; bytes: number }>();

  /** `inflight`: requests in flight per endpoint id, shared with TCP routes. */
  constructor(
    private readonly opts: HttpProxyOptions,
    private readonly inflight: InFlight,
    private readonly metrics: RouteMetrics,
    private readonly router: RouterPorts,
  ) {}

  /** Pools and h2c sessions to endpoints not in `live` (origins) go: idle ones now, busy ones when done. */
  retain(live: Set<string>): void {
    // Idle keep-alive connections to endpoints that left the table are closed; busy ones finish first.
    for (const [origin, pool] of this.pools) {
      if (live.has(origin)) continue;
      this.pools.delete(origin);
      // close(): idle connections now, busy ones as soon as their request is done; destroy() after 60 s.
      const timer = setTimeout(() => void pool.destroy().catch(() => undefined), 60_000).unref();
      void pool
        .close()
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
    }
    // h2c sessions to endpoints that left: no new streams; the ones in flight finish first.
    for (const [origin, session] of this.h2Sessions) {
      if (live.has(origin)) continue;
      this.h2Sessions.delete(origin);
      session.close();
    }
  }

  /** At stop: no new streams on the h2c sessions. */
  closeSessions(): void {
    for (const session of this.h2Sessions.values()) session.close();
  }

  /** At stop: the keep-alive pools' connections are closed. */
  async destroyPools(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
  }

  private poolFor(e: Endpoint): Pool {
    const origin = originOf(e);
    let pool = this.pools.get(origin);
    if (!pool) {
      const timeout = this.opts.upstreamTimeoutMs ?? 60_000;
      // One request per connection at a time (no pipelining), as many connections as requests in flight.
      pool = new Pool(`http://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`, { pipelining: 1, connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** One request on the HTTP or the TLS port (HTTP/2 through the compatibility API). */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = Date.now();
    const { host, compiled } = lookup(this.routes, req);
    const log = this.opts.accessLog;
    if (log) {
      res.once('close', () => {
        const answered = this.answeredBy.get(res);
        log({
          ts: new Date(started).toISOString(),
          client: req.socket.remoteAddress ?? '',
          method: req.method ?? '',
          host,
          path: req.url ?? '',
          status: res.headersSent ? res.statusCode : 0,
          bytes: answered?.bytes ?? (Number(res.getHeader('content-length') ?? 0) || 0),
          durationMs: Date.now() - started,
          ...(compiled ? { route: compiled.route.key } : {}),
          ...(answered ? { endpoint: answered.endpoint, requestId: answered.requestId } : {}),
        });
      });
    }
    if (!compiled) return answer(res, 404, pages.notFound(host));
    const end = this.metrics.begin(compiled.route.key, 'http');
    const startedNs = process.hrtime.bigint();
    res.once('close', () => {
      const at = this.headersAt.get(res);
      // An answer cut short before its headers counts as `other`, as HAProxy counts an aborted request.
      end(res.headersSent ? res.statusCode : 0, at === undefined ? undefined : Number(at - startedNs) / 1e9);
    });
    // Access first: a refused request learns nothing about the service, not even that it is in maintenance.
    const decision = compiled.route.access ? evaluate(compiled.route.access, accessRequest(req, compiled.route)) : 'allow';
    if (decision !== 'allow') {
      // The body is not read: close the connection after the answer rather than drain an upload (an
      // HTTP/2 stream is reset by the compatibility API instead; its connection carries on).
      if (hasBody(req) && req.httpVersionMajor < 2) res.setHeader('connection', 'close');
      return decision.status === 401
        ? answer(res, 401, pages.unauthorized(), { 'www-authenticate': decision.wwwAuthenticate! })
        : answer(res, 403, pages.forbidden());
    }
    if (compiled.route.maintenance) return answer(res, 503, pages.maintenance(), { 'retry-after': '30' });
    const key = hashKeyOf(compiled.route, req);
    const pinned = compiled.pinned && matchesPin(compiled.route.canary?.pins, (name) => headerOf(req, name)) ? compiled.pinned.pick(undefined, key) : undefined;
    const ep = pinned ?? compiled.balancer.pick(undefined, key);
    if (!ep) return answer(res, 503, pages.noInstance(), { 'retry-after': '5' });
    const headers = this.forwardHeaders(req, host);
    this.forward(req, res, compiled, ep, headers, true, started);
  }

  private forwardHeaders(req: http.IncomingMessage, host: string): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    const given = req.headers;
    for (const k in given) {
      const v = given[k];
      if (v !== undefined && k.charCodeAt(0) !== 58 /* : */ && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    if (out.host === undefined) out.host = authorityOf(req) || host;
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    const secure = isTls(req);
    out['x-forwarded-proto'] = secure ? 'https' : 'http';
    out['x-forwarded-host'] = authorityOf(req) || host;
    out['x-forwarded-port'] = String(req.socket.localPort ?? (secure ? this.router.address().httpsPort : this.router.address().httpPort));
    const rid = req.headers['x-request-id'];
    out['x-request-id'] = typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : crypto.randomUUID();
    return out;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, compiled: CompiledRoute, ep: Endpoint, headers: http.OutgoingHttpHeaders, mayRetry: boolean, started: number): void {
    if (compiled.route.protocol === 'HTTP/2') return this.forwardH2(req, res, compiled, ep, headers, mayRetry, started);
    const finish = this.inflight.begin(ep.id);
    const bodyless = !hasBody(req);
    let clientGone = false;
    let controller: Dispatcher.DispatchController | undefined;
    let paused = false;
    /** for the access log */
    let answered: { endpoint: string; requestId?: string; bytes: number } | undefined;
    const resume = () => {
      paused = false;
      controller?.resume();
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => {
        controller = c;
        if (clientGone) c.abort(new Error('client gone'));
      },
      onResponseStart: (_c, statusCode, upstreamHeaders) => {
        // 1xx interim answers are not relayed (Node's server answers `Expect: 100-continue` itself).
        if (statusCode < 200) return;
        this.headersAt.set(res, process.hrtime.bigint());
        if (this.opts.accessLog) {
          answered = { endpoint: ep.id, requestId: typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : undefined, bytes: 0 };
          this.answeredBy.set(res, answered);
        }
        const out: http.OutgoingHttpHeaders = {};
        for (const k in upstreamHeaders) if (!HOP_BY_HOP.has(k)) out[k] = upstreamHeaders[k];
        res.writeHead(statusCode, out);
      },
      onResponseData: (c, chunk) => {
        if (answered) answered.bytes += chunk.length;
        // Backpressure: a slow client pauses the upstream connection until its buffer drains.
        if (!res.write(chunk) && !paused) {
          paused = true;
          c.pause();
          res.once('drain', resume);
        }
      },
      onResponseEnd: () => {
        finish();
        res.end();
        this.opts.logger?.debug({ method: req.method, host: req.headers.host, path: req.url, status: res.statusCode, endpoint: ep.id, ms: Date.now() - started }, 'access');
      },
      onResponseError: (_c, err: Error & { code?: string }) => {
        finish();
        if (clientGone) return;
        if (res.headersSent) return void res.destroy();
        const refused = err.code === 'ECONNREFUSED' || (!bodySent && (err.code === 'ECONNRESET' || err.code === 'UND_ERR_SOCKET'));
        if (refused && mayRetry && IDEMPOTENT.has(req.method ?? '') && !bodySent) {
          const other = compiled.balancer.pick(ep.id, hashKeyOf(compiled.route, req));
          if (other) return this.forward(req, res, compiled, other, headers, false, started);
        }
        if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') return answer(res, 504, pages.timeout());
        this.opts.logger?.warn({ endpoint: ep.id, err: err.code ?? err.message }, 'upstream failed');
        answer(res, 502, pages.badGateway());
      },
    };
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        controller?.abort(new Error('client gone'));
      }
      finish();
    });
    // The router answers `Expect: 100-continue` itself; the upstream client refuses the header.
    let upstreamHeaders = headers;
    if (headers.expect !== undefined) {
      upstreamHeaders = { ...headers };
      delete upstreamHeaders.expect;
    }
    // A body is streamed as it arrives, and the request can no longer be retried elsewhere.
    const bodySent = !bodyless;
    this.poolFor(ep).dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers: upstreamHeaders as Record<string, string | string[]>, body: bodyless ? null : req }, handler);
  }

  /** h2c session to an endpoint, shared by its requests; a closed or failed one is replaced. */
  private h2SessionFor(ep: Endpoint): http2.ClientHttp2Session {
    const origin = originOf(ep);
    const had = this.h2Sessions.get(origin);
    if (had && !had.closed && !had.destroyed) return had;
    const session = http2.connect(`http://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`);
    const forget = () => this.h2Sessions.get(origin) === session && this.h2Sessions.delete(origin);
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle session must not keep the process (or a stop) waiting.
    session.unref();
    this.h2Sessions.set(origin, session);
    return session;
  }

  /** An `HTTP/2` route: the request goes to the endpoint as h2c, whatever the client spoke. */
  private forwardH2(req: http.IncomingMessage, res: http.ServerResponse, compiled: CompiledRoute, ep: Endpoint, headers: http.OutgoingHttpHeaders, mayRetry: boolean, started: number): void {
    const finish = this.inflight.begin(ep.id);
    const h2headers: http2.OutgoingHttpHeaders = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':scheme': 'http', ':authority': String(headers.host ?? '') };
    for (const [k, v] of Object.entries(headers)) if (k !== 'host' && v !== undefined) h2headers[k] = v;
    const bodyless = !hasBody(req);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.h2SessionFor(ep).request(h2headers, { endStream: bodyless });
    } catch (err) {
      finish();
      this.opts.logger?.warn({ endpoint: ep.id, err: (err as Error).message }, 'upstream failed');
      return answer(res, 502, pages.badGateway());
    }
    stream.setTimeout(this.opts.upstreamTimeoutMs ?? 60_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    let timedOut = false;
    stream.on('timeout', () => (timedOut = true));
    stream.on('response', (uh) => {
      this.headersAt.set(res, process.hrtime.bigint());
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(uh)) if (!k.startsWith(':') && !HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(Number(uh[':status'] ?? 502), out);
      stream.pipe(res);
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      finish();
      this.opts.logger?.debug({ method: req.method, path: req.url, endpoint: ep.id, ms: Date.now() - started }, 'access');
    });
    let failed = false;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      failed = true;
      finish();
      if (res.headersSent) return void res.destroy();
      if (err.code === 'ECONNREFUSED' && mayRetry && bodyless && IDEMPOTENT.has(req.method ?? '')) {
        const other = compiled.balancer.pick(ep.id, hashKeyOf(compiled.route, req));
        if (other) return this.forwardH2(req, res, compiled, other, headers, false, started);
      }
      this.opts.logger?.warn({ endpoint: ep.id, err: err.code ?? err.message }, 'upstream failed');
      answer(res, 502, pages.badGateway());
    });
    stream.on('close', () => {
      finish();
      if (failed) return;
      if (!res.headersSent) answer(res, timedOut ? 504 : 502, timedOut ? pages.timeout() : pages.badGateway());
      // A stream that ended whole may close before the pipe has written its last bytes to the client (seen
      // with HTTP/1.1 clients over TLS): the pipe ends the response then. Only one cut short is cut here too.
      else if (!ended && !res.writableFinished) res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      finish();
    });
    if (!bodyless) req.pipe(stream);
  }
}
