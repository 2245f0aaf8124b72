/**
 * One behaviour, two data planes: the same cases run against the built-in Node proxy and HAProxy, with
 * real backends (node:http on 127.0.0.1) and real requests from 127.0.0.1 and ::1 to a router bound on
 * `::` (dual stack). Access policies (basic auth, IP rules on IPv4 and IPv6, headers as wildcards and
 * regular expressions, `and`/`or`, path rules with priorities, required and or-policies), host routing,
 * weights, and an endpoint change under load with no failed request.
 *
 * A case a data plane cannot pass is listed in its `cannot` table with the reason and reported as skipped
 * with that reason; none is dropped silently. HAProxy must be installed (the Debian package haproxy).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { NodeRouter } from '../src/router/node-proxy/node-router.ts';
import { ProcessRouter } from '../src/router/builtin-process/process-router.ts';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import type { AccessLogOutputs } from '../src/router/haproxy/access-log.ts';
import type { RequestSample } from '../src/router/haproxy/access-log-format.ts';
import { haproxyAvailable } from '../src/router/haproxy/detect.ts';
import { accessFromSecurity } from '../src/router/access.ts';
import { sha512Crypt } from '../src/router/password-hash.ts';
import type { AccessLogEntry, Endpoint, Route, Router } from '../src/router/table.ts';
import { generate } from 'selfsigned';

interface Plane {
  name: string;
  create(dataDir: string): Router;
  /** Case name → why this data plane cannot pass it. */
  cannot: Record<string, string>;
}

/** Base domain of the routers under test: the self-signed certificate is for `*.conf.test`. */
const DOMAIN = 'conf.test';

/** Each plane gets its own slice of TCP router ports (a random one, so parallel runs rarely meet). */
const TCP_BASE = 30_000 + Math.floor(Math.random() * 300) * 100;
const tcpRange = (plane: number) => ({ from: TCP_BASE + plane * 50, to: TCP_BASE + plane * 50 + 49 });

/** Every access-log entry either data plane wrote during the run. */
const ACCESS: AccessLogEntry[] = [];
const accessLog = (e: AccessLogEntry) => ACCESS.push(e);
/** HAProxy's lines that are not one JSON object of the access log (there must be none). */
const BAD_LINES: string[] = [];
/** What HAProxy's access log reported for per-release metrics, by request id of the line it came with. */
const SAMPLES: RequestSample[] = [];
/**
 * HAProxy writes whole JSON lines (access-log-format.ts): each is read back as the entry the built-in planes
 * give, the log envelope aside; an empty route, endpoint or request id is one HAProxy did not have.
 */
const haproxyAccessLog: AccessLogOutputs = {
  lines: (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line);
      } catch {
        BAD_LINES.push(line);
        continue;
      }
      if (o.component !== 'access' || o.msg !== 'access' || o.level !== 30 || typeof o.time !== 'number') BAD_LINES.push(line);
      const { level, time, pid, hostname, component, msg, ...entry } = o;
      for (const k of ['route', 'endpoint', 'requestId']) if (entry[k] === '') delete entry[k];
      ACCESS.push(entry as unknown as AccessLogEntry);
    }
  },
  requests: (route, endpoint, status, durationMs) => SAMPLES.push({ route, endpoint, status, durationMs }),
};

const PLANES: Plane[] = [
  { name: 'built-in Node proxy', create: (dataDir) => new NodeRouter({ host: '::', port: 0, tlsPort: 0, metricsPort: 0, tcpPorts: tcpRange(0), domain: DOMAIN, dataDir, upstreamTimeoutMs: 5000, accessLog }), cannot: {} },
  {
    name: 'HAProxy',
    create: (dataDir) => {
      assert.ok(haproxyAvailable(), 'haproxy is not installed: install the Debian package haproxy (apt-get install -y haproxy)');
      // Its warnings (a change not applied, HAProxy's alerts) go to the test output, to explain a failure.
      const logger = { debug: () => undefined, warn: (o: object, m: string) => console.error(`haproxy router: ${m} ${JSON.stringify(o)}`) };
      return new HaproxyRouter({ host: '::', port: 0, tlsPort: 0, metricsPort: 0, tcpPorts: tcpRange(1), domain: DOMAIN, dataDir, accessLog: haproxyAccessLog, logger });
    },
    cannot: {},
  },
  {
    // The built-in proxy as the platform runs it: in a process of its own, fed over its unix socket.
    name: 'built-in router process',
    create: (dataDir) => new ProcessRouter({ host: '::', port: 0, tlsPort: 0, metricsPort: 0, tcpPorts: tcpRange(2), domain: DOMAIN, dataDir, upstreamTimeoutMs: 5000, accessLog: true, accessLogSink: accessLog, logLevel: 'warn' }),
    cannot: {},
  },
];

interface Backend {
  id: string;
  port: number;
  server: http.Server;
  hits: number;
}

async function backend(id: string): Promise<Backend> {
  const b: Backend = { id, port: 0, server: undefined as never, hits: 0 };
  b.server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    b.hits++;
    req.resume();
    res.end(req.url === '/headers' ? JSON.stringify(req.headers) : id);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

async function closeBackend(b: Backend): Promise<void> {
  const closed = new Promise((r) => b.server.close(r));
  b.server.closeAllConnections();
  await closed;
}

async function waitUntil<T>(f: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

interface Ask {
  /** Client side: the router is reached on this address, so the request comes from the same loopback. */
  from?: '127.0.0.1' | '::1';
  path?: string;
  headers?: Record<string, string>;
  /** `user:password` for basic auth */
  auth?: string;
  agent?: http.Agent;
}

const ep = (b: Backend, weight = 1): Endpoint => ({ id: b.id, host: '127.0.0.1', port: b.port, weight });
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

interface Ctx {
  plane: Plane;
  router: Router;
  port: number;
  dataDir: string;
  /** Adds or replaces a route (by key) and waits until the data plane serves the table. */
  put(host: string, endpoints: Endpoint[], extra?: Partial<Route>): Promise<void>;
  /** Adds or replaces a whole route (by key) and waits until the data plane serves the table. */
  putRoute(route: Route): Promise<void>;
  /** A route guarded by a Northflank `security` object, with one fresh backend; returns the backend. */
  guarded(host: string, security: unknown): Promise<Backend>;
  mk(id: string): Promise<Backend>;
  get(host: string, ask?: Ask): Promise<Reply>;
}

interface Case {
  name: string;
  run(ctx: Ctx): Promise<void>;
}

const CASES: Case[] = [];
const it = (name: string, run: Case['run']) => CASES.push({ name, run });

// ── access policies ───────────────────────────────────────────────────────────────────────────────────

it('answers 401 with a Basic challenge to a request without or with wrong credentials, and passes the right ones', async (c) => {
  const b = await c.guarded('auth.test', {
    credentials: [
      { username: 'admin', password: sha512Crypt('s3cret'), type: 'basic-auth' },
      { username: 'legacy', password: 'plain-stored', type: 'basic-auth' },
    ],
  });
  for (const auth of [undefined, 'admin:wrong', 'nobody:s3cret', 'admin:']) {
    const r = await c.get('auth.test', { auth });
    assert.equal(r.status, 401, `auth ${auth}`);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="slipway"');
  }
  const noAuth = await c.get('auth.test', { headers: { authorization: 'Bearer abc' } });
  assert.equal(noAuth.status, 401);
  assert.equal(b.hits, 0, 'a refused request never reaches the app');
  assert.equal((await c.get('auth.test', { auth: 'admin:s3cret' })).body, 'auth.test');
  assert.equal((await c.get('auth.test', { auth: 'legacy:plain-stored' })).body, 'auth.test');
  assert.equal(b.hits, 2);
});

it('lets only ALLOW-listed addresses through, IPv4 and IPv6', async (c) => {
  const v4 = await c.guarded('allow4.test', { ip: [{ addresses: ['127.0.0.1'], action: 'ALLOW' }] });
  assert.equal((await c.get('allow4.test', { from: '127.0.0.1' })).status, 200);
  assert.equal((await c.get('allow4.test', { from: '::1' })).status, 403);
  const v6 = await c.guarded('allow6.test', { policies: [{ addresses: ['::1'], action: 'ALLOW' }] });
  assert.equal((await c.get('allow6.test', { from: '::1' })).status, 200);
  assert.equal((await c.get('allow6.test', { from: '127.0.0.1' })).status, 403);
  const range = await c.guarded('allow-cidr.test', { ip: [{ addresses: ['127.0.0.0/8', '::0/112'], action: 'ALLOW' }] });
  assert.equal((await c.get('allow-cidr.test', { from: '::1' })).status, 200);
  assert.equal((await c.get('allow-cidr.test', { from: '127.0.0.1' })).status, 200);
  assert.deepEqual([v4.hits, v6.hits, range.hits], [1, 1, 2]);
});

it('refuses DENY-listed addresses and ranges with 403, IPv4 and IPv6', async (c) => {
  const deny4 = await c.guarded('deny4.test', { policies: [{ addresses: ['127.0.0.0/8'], action: 'DENY' }] });
  assert.equal((await c.get('deny4.test', { from: '127.0.0.1' })).status, 403);
  assert.equal((await c.get('deny4.test', { from: '::1' })).status, 200);
  const deny6 = await c.guarded('deny6.test', { ip: [{ addresses: ['::/120'], action: 'DENY' }] });
  assert.equal((await c.get('deny6.test', { from: '::1' })).status, 403);
  assert.equal((await c.get('deny6.test', { from: '127.0.0.1' })).status, 200);
  const allV4 = await c.guarded('deny-all4.test', { ip: [{ addresses: ['0.0.0.0/0'], action: 'DENY' }] });
  assert.equal((await c.get('deny-all4.test', { from: '127.0.0.1' })).status, 403);
  assert.equal((await c.get('deny-all4.test', { from: '::1' })).status, 200, 'an IPv6 client is not in an IPv4 range');
  // DENY wins over ALLOW and over valid credentials.
  const both = await c.guarded('deny-wins.test', {
    verificationMode: 'or',
    ip: [{ addresses: ['::1'], action: 'ALLOW' }, { addresses: ['::1'], action: 'DENY' }],
    credentials: [{ username: 'admin', password: 'pw-123', type: 'basic-auth' }],
  });
  assert.equal((await c.get('deny-wins.test', { from: '::1', auth: 'admin:pw-123' })).status, 403);
  assert.deepEqual([deny4.hits, deny6.hits, allV4.hits, both.hits], [1, 1, 1, 0]);
});

it('matches headers as strings with * wildcards, all of them required', async (c) => {
  const b = await c.guarded('hdr.test', {
    headers: [
      { name: 'X-Api-Key', value: 'key-*' },
      { name: 'x-version', value: 'v1.0' },
    ],
  });
  const ok = { 'x-api-key': 'key-123', 'X-Version': 'v1.0' };
  assert.equal((await c.get('hdr.test', { headers: ok })).status, 200);
  assert.equal((await c.get('hdr.test', { headers: { ...ok, 'x-api-key': 'key-' } })).status, 200, '* also matches nothing');
  assert.equal((await c.get('hdr.test', { headers: { 'x-api-key': 'key-123' } })).status, 403, 'a missing header');
  assert.equal((await c.get('hdr.test', { headers: { ...ok, 'x-api-key': 'nokey-1' } })).status, 403);
  assert.equal((await c.get('hdr.test', { headers: { ...ok, 'x-version': 'v1x0' } })).status, 403, '. is a plain character');
  assert.equal((await c.get('hdr.test', { headers: { ...ok, 'x-version': 'v1.00' } })).status, 403, 'the whole value must match');
  assert.equal(b.hits, 2);
});

it('matches headers as regular expressions in regexMode', async (c) => {
  const b = await c.guarded('hdr-re.test', { headers: [{ name: 'x-build', value: '^v[0-9]+(\\.[0-9]+)?$', regexMode: true }] });
  for (const [value, status] of [
    ['v12', 200],
    ['v1.5', 200],
    ['v1a', 403],
    ['xv1', 403],
  ] as const)
    assert.equal((await c.get('hdr-re.test', { headers: { 'x-build': value } })).status, status, value);
  assert.equal((await c.get('hdr-re.test')).status, 403);
  // An unanchored expression searches the value.
  const loose = await c.guarded('hdr-re2.test', { headers: [{ name: 'user-agent', value: 'bot|crawler', regexMode: true }] });
  assert.equal((await c.get('hdr-re2.test', { headers: { 'user-agent': 'my-crawler/1.0' } })).status, 200);
  assert.equal((await c.get('hdr-re2.test', { headers: { 'user-agent': 'firefox' } })).status, 403);
  // A header rule without a name (the seed's own example) matches nothing: fail closed.
  const unnamed = await c.guarded('hdr-none.test', { headers: [{ regexMode: false }] });
  assert.equal((await c.get('hdr-none.test', { headers: { 'x-any': '1' } })).status, 403);
  assert.deepEqual([b.hits, loose.hits, unnamed.hits], [2, 1, 0]);
});

it('verificationMode or lets any one passing check through, asking for credentials when none passes', async (c) => {
  const b = await c.guarded('or.test', {
    verificationMode: 'or',
    ip: [{ addresses: ['::1'], action: 'ALLOW' }],
    headers: [{ name: 'x-token', value: 'letmein' }],
    credentials: [{ username: 'admin', password: 'pw-or', type: 'basic-auth' }],
  });
  assert.equal((await c.get('or.test', { from: '::1' })).status, 200, 'the address alone');
  assert.equal((await c.get('or.test', { from: '127.0.0.1', headers: { 'x-token': 'letmein' } })).status, 200, 'the header alone');
  assert.equal((await c.get('or.test', { from: '127.0.0.1', auth: 'admin:pw-or' })).status, 200, 'the credentials alone');
  const none = await c.get('or.test', { from: '127.0.0.1' });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Basic realm="slipway"');
  const noCreds = await c.guarded('or-nocreds.test', { verificationMode: 'or', ip: [{ addresses: ['::1'], action: 'ALLOW' }], headers: [{ name: 'x-token', value: 't' }] });
  assert.equal((await c.get('or-nocreds.test', { from: '127.0.0.1' })).status, 403, 'nothing to ask for: 403');
  assert.deepEqual([b.hits, noCreds.hits], [3, 0]);
});

it('verificationMode and (the default) needs every check: 403 for the address, 401 for credentials', async (c) => {
  for (const [host, mode] of [
    ['and.test', 'and'],
    ['and-default.test', undefined],
  ] as const) {
    const b = await c.guarded(host, { ...(mode ? { verificationMode: mode } : {}), ip: [{ addresses: ['127.0.0.1'], action: 'ALLOW' }], credentials: [{ username: 'admin', password: 'pw-and', type: 'basic-auth' }] });
    assert.equal((await c.get(host, { from: '127.0.0.1' })).status, 401);
    assert.equal((await c.get(host, { from: '127.0.0.1', auth: 'admin:nope' })).status, 401);
    assert.equal((await c.get(host, { from: '::1', auth: 'admin:pw-and' })).status, 403);
    assert.equal((await c.get(host, { from: '::1' })).status, 403, 'a refused address is not asked for credentials');
    assert.equal((await c.get(host, { from: '127.0.0.1', auth: 'admin:pw-and' })).status, 200);
    assert.equal(b.hits, 1);
  }
});

it('applies path rules by priority: unprotected paths pass, protected ones use their own policies, others the port policy', async (c) => {
  const b = await c.guarded('paths.test', {
    credentials: [{ username: 'admin', password: 'pw-port', type: 'basic-auth' }],
    securePathConfiguration: {
      enabled: true,
      rules: [
        { paths: [{ path: '/public', routingMode: 'prefix', priority: 1 }], accessMode: 'unprotected' },
        { paths: [{ path: '/public/secret', routingMode: 'exact', priority: 10 }], accessMode: 'protected', securityPolicies: { requiredPolicies: { headers: [{ name: 'x-admin', value: 'yes' }] } } },
        { paths: [{ path: '^/api/v[0-9]+/health$', routingMode: 'regex', priority: 5 }], accessMode: 'unprotected' },
        {
          paths: [{ path: '/api', routingMode: 'prefix', priority: 2 }],
          accessMode: 'protected',
          securityPolicies: { orPolicies: { ip: [{ addresses: ['::1'], action: 'ALLOW' }], credentials: [{ username: 'apiuser', password: 'pw-api', type: 'basic-auth' }] } },
        },
        // Same priority as /public, listed later: /public wins for /public/… paths.
        { paths: [{ path: '/pub', routingMode: 'prefix', priority: 1 }], accessMode: 'protected', securityPolicies: { requiredPolicies: { ip: [{ addresses: ['10.9.9.9'], action: 'ALLOW' }] } } },
      ],
    },
  });
  const cases: [string, Ask, number][] = [
    ['/public/page', {}, 200],
    ['/public', {}, 200],
    ['/public/secret', {}, 403],
    ['/public/secret?x=1', {}, 403],
    ['/public/secret', { headers: { 'x-admin': 'yes' } }, 200],
    ['/public/secret/more', {}, 200],
    ['/pub', {}, 403],
    ['/private', {}, 401],
    ['/private', { auth: 'admin:pw-port' }, 200],
    ['/', { auth: 'admin:pw-port' }, 200],
    ['/api/v2/health', {}, 200],
    ['/api/v2/health/x', { from: '127.0.0.1' }, 401],
    ['/api/users', { from: '::1' }, 200],
    ['/api/users', { from: '127.0.0.1' }, 401],
    ['/api/users', { from: '127.0.0.1', auth: 'apiuser:pw-api' }, 200],
    ['/api/users', { from: '127.0.0.1', auth: 'admin:pw-port' }, 401],
  ];
  let passed = 0;
  for (const [p, ask, status] of cases) {
    const r = await c.get('paths.test', { from: '127.0.0.1', ...ask, path: p });
    assert.equal(r.status, status, `${p} ${JSON.stringify(ask)}`);
    if (status === 200) passed++;
  }
  assert.equal(b.hits, passed, 'only the requests let through reach the app');
});

it('combines requiredPolicies (all) with orPolicies (one of them) on a protected path, keeping the port DENY list', async (c) => {
  const b = await c.guarded('req-or.test', {
    policies: [{ addresses: ['::1'], action: 'DENY' }],
    securePathConfiguration: {
      rules: [
        {
          paths: [{ path: '/admin', routingMode: 'prefix', priority: 50 }],
          accessMode: 'protected',
          securityPolicies: {
            requiredPolicies: { credentials: [{ username: 'root', password: 'pw-root', type: 'basic-auth' }] },
            orPolicies: { headers: [{ name: 'x-team', value: 'ops' }], ip: [{ addresses: ['127.0.0.1/32'], action: 'ALLOW' }] },
          },
        },
      ],
    },
  });
  assert.equal((await c.get('req-or.test', { from: '127.0.0.1', path: '/admin' })).status, 401);
  assert.equal((await c.get('req-or.test', { from: '127.0.0.1', path: '/admin', auth: 'root:pw-root' })).status, 200);
  assert.equal((await c.get('req-or.test', { from: '::1', path: '/admin', auth: 'root:pw-root', headers: { 'x-team': 'ops' } })).status, 403, 'the port DENY list still applies');
  assert.equal((await c.get('req-or.test', { from: '::1', path: '/' })).status, 403);
  assert.equal((await c.get('req-or.test', { from: '127.0.0.1', path: '/' })).status, 200);
  assert.equal(b.hits, 2);
  // Without the address: the header must stand in for it.
  const b2 = await c.guarded('req-or2.test', {
    securePathConfiguration: {
      rules: [
        {
          paths: [{ path: '/admin', routingMode: 'prefix', priority: 50 }],
          securityPolicies: {
            requiredPolicies: { credentials: [{ username: 'root', password: 'pw-root', type: 'basic-auth' }] },
            orPolicies: { headers: [{ name: 'x-team', value: 'ops' }], ip: [{ addresses: ['10.0.0.0/8'], action: 'ALLOW' }] },
          },
        },
      ],
    },
  });
  assert.equal((await c.get('req-or2.test', { path: '/admin', auth: 'root:pw-root' })).status, 403);
  assert.equal((await c.get('req-or2.test', { path: '/admin', auth: 'root:pw-root', headers: { 'x-team': 'ops' } })).status, 200);
  assert.equal((await c.get('req-or2.test', { path: '/admin', headers: { 'x-team': 'ops' } })).status, 401);
  assert.equal(b2.hits, 1);
});

it('fails closed on SSO, which slipway cannot check, unless another check passes in or mode', async (c) => {
  const and = await c.guarded('sso-and.test', { sso: { organizationId: 'org' }, credentials: [{ username: 'admin', password: 'pw-sso', type: 'basic-auth' }] });
  assert.equal((await c.get('sso-and.test', { auth: 'admin:pw-sso' })).status, 403);
  const or = await c.guarded('sso-or.test', { verificationMode: 'or', sso: { organizationId: 'org' }, credentials: [{ username: 'admin', password: 'pw-sso', type: 'basic-auth' }] });
  assert.equal((await c.get('sso-or.test', { auth: 'admin:pw-sso' })).status, 200);
  assert.equal((await c.get('sso-or.test')).status, 401);
  assert.deepEqual([and.hits, or.hits], [0, 1]);
});

// Internal traffic is a client address among the route's internal sources (the controllers give the
// addresses of the project's instances). Here the sources are one of the two loopback addresses the test
// reaches the router from, so the same machine is an instance (127.0.0.1) and a user (::1), then the reverse.
it('lets internal traffic skip every policy with skipSecurityPoliciesForInternalTrafficViaPublicDns, following changes of the sources', async (c) => {
  const b = await c.mk('internal-skip');
  const security = {
    credentials: [{ username: 'admin', password: 'pw-internal', type: 'basic-auth' }],
    securePathConfiguration: {
      enabled: true,
      skipSecurityPoliciesForInternalTrafficViaPublicDns: true,
      rules: [{ paths: [{ path: '/private', routingMode: 'prefix', priority: 1 }], accessMode: 'protected', securityPolicies: { requiredPolicies: { ip: [{ addresses: ['10.0.0.0/8'], action: 'ALLOW' }] } } }],
    },
  };
  const access = accessFromSecurity(security, 'internal-skip');
  await c.put('internal-skip.test', [ep(b)], { access, internalSources: ['127.0.0.1'] });
  assert.equal((await c.get('internal-skip.test', { from: '127.0.0.1' })).status, 200, 'an instance passes without credentials');
  assert.equal((await c.get('internal-skip.test', { from: '127.0.0.1', path: '/private/x' })).status, 200, 'and past a protected path');
  assert.equal((await c.get('internal-skip.test', { from: '::1' })).status, 401, 'a user needs credentials');
  assert.equal((await c.get('internal-skip.test', { from: '::1', auth: 'admin:pw-internal' })).status, 200);
  assert.equal((await c.get('internal-skip.test', { from: '::1', path: '/private/x', auth: 'admin:pw-internal' })).status, 403, 'and the path rule');
  // Instances come and go: the sources change without anything else in the route.
  await c.put('internal-skip.test', [ep(b)], { access, internalSources: ['::1', '10.88.0.7'] });
  assert.equal((await c.get('internal-skip.test', { from: '::1' })).status, 200);
  assert.equal((await c.get('internal-skip.test', { from: '127.0.0.1' })).status, 401);
  await c.put('internal-skip.test', [ep(b)], { access, internalSources: [] });
  assert.equal((await c.get('internal-skip.test', { from: '::1' })).status, 401);
  // The flag belongs to the path configuration: with it disabled, the sources change nothing.
  const off = accessFromSecurity({ ...security, securePathConfiguration: { ...security.securePathConfiguration, enabled: false } }, 'internal-skip');
  await c.put('internal-skip.test', [ep(b)], { access: off, internalSources: ['127.0.0.1'] });
  assert.equal((await c.get('internal-skip.test', { from: '127.0.0.1' })).status, 401);
});

it('passes internal traffic through an SSO check with allowInternalTrafficViaPublicDns, and refuses the rest', async (c) => {
  const b = await c.mk('internal-sso');
  const access = accessFromSecurity({ sso: { organizationId: 'org', allowInternalTrafficViaPublicDns: true } }, 'internal-sso');
  await c.put('internal-sso.test', [ep(b)], { access, internalSources: ['127.0.0.1'] });
  assert.equal((await c.get('internal-sso.test', { from: '127.0.0.1' })).status, 200);
  assert.equal((await c.get('internal-sso.test', { from: '::1' })).status, 403);
  // Without the flag the SSO check fails closed for everyone.
  await c.put('internal-sso.test', [ep(b)], { access: accessFromSecurity({ sso: { organizationId: 'org' } }, 'internal-sso'), internalSources: ['127.0.0.1'] });
  assert.equal((await c.get('internal-sso.test', { from: '127.0.0.1' })).status, 403);
  assert.equal(b.hits, 1);
});

it('refuses a request with a body without reading it, and serves the next request', async (c) => {
  const b = await c.guarded('body.test', { credentials: [{ username: 'admin', password: 'pw-body', type: 'basic-auth' }] });
  const r = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: c.port, method: 'POST', path: '/', headers: { host: 'body.test', 'content-length': 5 }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end('hello');
  });
  assert.equal(r, 401);
  assert.equal((await c.get('body.test', { auth: 'admin:pw-body' })).status, 200);
  assert.equal(b.hits, 1);
});

// ── routing ───────────────────────────────────────────────────────────────────────────────────────────

it('routes by Host, ignoring case and port, over IPv4 and IPv6, and answers 404 for an unknown host', async (c) => {
  const a = await c.mk('host-a');
  const b = await c.mk('host-b');
  await c.put('app.test', [ep(a)], { hosts: ['app.test', 'www.app.test'] });
  await c.put('other.test', [ep(b)]);
  assert.equal((await c.get('App.Test:8080')).body, 'host-a');
  assert.equal((await c.get('www.app.test', { from: '::1' })).body, 'host-a');
  assert.equal((await c.get('other.test', { from: '::1' })).body, 'host-b');
  const miss = await c.get('nope.test');
  assert.equal(miss.status, 404);
});

it('follows weights and never sends to weight 0', async (c) => {
  const [x, y, z] = [await c.mk('wx'), await c.mk('wy'), await c.mk('wz')];
  await c.put('weights.test', [ep(x, 3), ep(y, 1), ep(z, 0)]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const counts: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    const id = (await c.get('weights.test', { agent })).body;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  agent.destroy();
  assert.equal(counts.wz, undefined, JSON.stringify(counts));
  assert.ok(counts.wx > 0 && counts.wy > 0, JSON.stringify(counts));
  assert.ok(counts.wx >= 2 * counts.wy, `a 3:1 split expected, got ${JSON.stringify(counts)}`);
});

it('spreads round robin evenly and prefers the idle endpoint with leastConnection', async (c) => {
  const [a, b, d] = [await c.mk('rr-a'), await c.mk('rr-b'), await c.mk('rr-c')];
  await c.put('rr.test', [ep(a), ep(b), ep(d)], { loadBalancing: { mode: 'roundRobin' } });
  const counts: Record<string, number> = {};
  for (let i = 0; i < 30; i++) {
    const id = (await c.get('rr.test')).body;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  assert.deepEqual(Object.keys(counts).sort(), ['rr-a', 'rr-b', 'rr-c'], JSON.stringify(counts));
  for (const n of Object.values(counts)) assert.ok(n >= 5, JSON.stringify(counts));

  // One endpoint holds a slow request: the next requests go to the other one.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const slow = await c.mk('lc-slow');
  slow.server.removeAllListeners('request');
  let holding = 0;
  slow.server.on('request', (_req, res) => {
    holding++;
    void held.then(() => res.end('lc-slow'));
  });
  const idle = await c.mk('lc-idle');
  await c.put('lc.test', [ep(slow), ep(idle)], { loadBalancing: { mode: 'leastConnection' } });
  const pending: Promise<Reply>[] = [];
  // Requests until the slow endpoint holds one (a request that reaches the idle endpoint is answered at once),
  // then least-connection avoids it. The six that follow share one kept-alive connection: on fresh ones HAProxy
  // may still count the idle endpoint's last request when the next arrives (another thread ends that stream a
  // moment after the client has its answer), and at one each the two endpoints would tie.
  for (let i = 0; i < 10 && holding === 0; i++) {
    const answered = idle.hits;
    pending.push(c.get('lc.test'));
    await waitUntil(() => (holding > 0 || idle.hits > answered ? true : undefined), 'the request answered or held');
  }
  assert.ok(holding > 0, 'no request reached the slow endpoint');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: string[] = [];
  for (let i = 0; i < 6; i++) answers.push((await c.get('lc.test', { agent })).body);
  agent.destroy();
  release();
  await Promise.all(pending);
  assert.ok(answers.every((x) => x === 'lc-idle'), `${answers.join(',')} (the slow endpoint held ${holding})`);
});

it('keeps a client on one endpoint by address or header (consistentHash) and by path or header (consistentReplicaRouting)', async (c) => {
  const bs = [await c.mk('ch-a'), await c.mk('ch-b'), await c.mk('ch-c'), await c.mk('ch-d')];
  const eps = bs.map((b) => ep(b));
  const spread = async (host: string, ask: (i: number) => Ask) => {
    const seen = new Map<number, string>();
    for (let i = 0; i < 12; i++) {
      const first = (await c.get(host, ask(i))).body;
      for (let k = 0; k < 3; k++) assert.equal((await c.get(host, ask(i))).body, first, `${host}: key ${i} moved`);
      seen.set(i, first);
    }
    return new Set(seen.values());
  };
  await c.put('ch-ip.test', eps, { loadBalancing: { mode: 'consistentHash', consistentHash: { mode: 'ip' } } });
  const byIp = new Set([(await c.get('ch-ip.test')).body, (await c.get('ch-ip.test', { from: '::1' })).body]);
  for (let k = 0; k < 4; k++) assert.ok(byIp.has((await c.get('ch-ip.test')).body), 'the same address stays on its endpoint');

  await c.put('ch-hdr.test', eps, { loadBalancing: { mode: 'consistentHash', consistentHash: { mode: 'customHeader', header: 'X-User' } } });
  assert.ok((await spread('ch-hdr.test', (i) => ({ headers: { 'x-user': `user-${i}` } }))).size >= 2, 'different header values spread');

  await c.put('crr-path.test', eps, { loadBalancing: { mode: 'consistentReplicaRouting', consistentReplicaRouting: { mode: 'path' } } });
  assert.ok((await spread('crr-path.test', (i) => ({ path: `/doc/${i}` }))).size >= 2, 'different paths spread');

  await c.put('crr-hdr.test', eps, { loadBalancing: { mode: 'consistentReplicaRouting', consistentReplicaRouting: { mode: 'header' } } });
  assert.ok((await spread('crr-hdr.test', (i) => ({ headers: { 'x-replica-id': `r-${i}` } }))).size >= 2, 'different replica ids spread');
});

it('passes a WebSocket upgrade through and echoes frames both ways', async (c) => {
  const b = await c.mk('ws');
  const upgraded: net.Socket[] = [];
  b.server.on('upgrade', (req, socket: net.Socket) => {
    upgraded.push(socket);
    const accept = crypto.createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  await c.put('ws.test', [ep(b)]);
  const key = crypto.randomBytes(16).toString('base64');
  const sock = net.connect({ host: '127.0.0.1', port: c.port });
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET /socket HTTP/1.1\r\nhost: ws.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n\r\n`);
  let buf = '';
  const until = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no '${text}' in ${JSON.stringify(buf)}`)), 10_000);
      const on = (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes(text)) {
          clearTimeout(t);
          sock.off('data', on);
          resolve();
        }
      };
      sock.on('data', on);
      on(Buffer.alloc(0));
    });
  await until('\r\n\r\n');
  assert.match(buf, /^HTTP\/1\.1 101/);
  sock.write('ping-1');
  await until('echo:ping-1');
  sock.write('ping-2');
  await until('echo:ping-2');
  sock.destroy();
  // An upgraded socket is no longer the HTTP server's: close it here so the backend can close later.
  for (const u of upgraded) u.destroy();
});

it('writes one structured access-log entry per request, with route, instance, status and request id', async (c) => {
  const b = await c.mk('logged');
  await c.put('logged.test', [ep(b)]);
  const tag = `/access/${c.plane.name.replace(/\W+/g, '-')}?q=1`;
  const r = await c.get('logged.test', { path: tag, headers: { 'x-request-id': 'req-access-1' } });
  assert.equal(r.status, 200);
  await c.get('unknown-host.test', { path: `${tag}&miss=1` });
  const entry = await waitUntil(() => ACCESS.find((e) => e.path === tag && e.host === 'logged.test'), 'the access entry');
  assert.equal(entry.method, 'GET');
  assert.equal(entry.status, 200);
  assert.equal(entry.route, 'p/logged.test/p01');
  assert.equal(entry.endpoint, 'logged');
  assert.equal(entry.requestId, 'req-access-1');
  assert.ok(entry.bytes > 0 && entry.durationMs >= 0 && !Number.isNaN(Date.parse(entry.ts)), JSON.stringify(entry));
  assert.match(entry.client, /127\.0\.0\.1/);
  const miss = await waitUntil(() => ACCESS.find((e) => e.path === `${tag}&miss=1`), 'the 404 entry');
  assert.equal(miss.status, 404);
  assert.equal(miss.route, undefined);
  if (c.plane.name === 'HAProxy') {
    assert.deepEqual(BAD_LINES, [], 'every line HAProxy wrote is one JSON object of the access log');
    // The fields canary analysis reads, picked out of the same lines without parsing them.
    const sample = await waitUntil(() => SAMPLES.find((s) => s.route === 'p/logged.test/p01'), 'the request sample');
    assert.deepEqual(sample, { route: 'p/logged.test/p01', endpoint: 'logged', status: 200, durationMs: entry.durationMs });
  }
});

it('logs every request exactly once through structural changes under load, and again after the log was idle', async (c) => {
  const b = await c.mk('logged-load');
  await c.put('logged-load.test', [ep(b)]);
  const prefix = `${c.plane.name.replace(/\W+/g, '-')}-${Date.now()}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const sent: string[] = [];
  let running = true;
  const client = async (k: number) => {
    for (let i = 0; running; i++) {
      const id = `${prefix}-${k}-${i}`;
      const r = await c.get('logged-load.test', { agent, headers: { 'x-request-id': id } });
      assert.equal(r.status, 200);
      sent.push(id);
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  // New routes are structural changes: HAProxy reloads for each, and an old worker finishes its requests.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 150));
    await c.put(`logged-extra-${i}.test`, [ep(b)]);
  }
  await new Promise((r) => setTimeout(r, 150));
  running = false;
  await Promise.all(clients);
  agent.destroy();
  const ids = () => ACCESS.filter((e) => e.requestId?.startsWith(`${prefix}-`)).map((e) => e.requestId!);
  await waitUntil(() => (ids().length >= sent.length ? true : undefined), `${sent.length} access entries (have ${ids().length})`);
  const logged = ids();
  assert.equal(logged.length, sent.length, 'no request logged twice');
  assert.deepEqual([...logged].sort(), [...sent].sort(), 'every request logged');
  // HAProxy closes an admin-socket session idle for its stats timeout (10 s); the log must outlive that.
  await new Promise((r) => setTimeout(r, 11_000));
  const late = `${prefix}-after-idle`;
  assert.equal((await c.get('logged-load.test', { headers: { 'x-request-id': late } })).status, 200);
  await waitUntil(() => ACCESS.find((e) => e.requestId === late), 'the entry of a request after an idle log');
});

it('replaces endpoints under keep-alive load without a failed request', async (c) => {
  let gen = 0;
  const spawn = () => c.mk(`gen${gen++}`);
  let current = [await spawn(), await spawn()];
  await c.put('load.test', current.map((b) => ep(b)));
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const answeredBy = new Set<string>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
  const client = async () => {
    while (running) {
      try {
        const r = await c.get('load.test', { agent });
        if (r.status === 200) {
          ok++;
          answeredBy.add(r.body);
        } else failures.push(`status ${r.status}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const clients = Array.from({ length: 6 }, client);
  // Bounded by work: enough replacements and requests, however slow the machine.
  let replacements = 0;
  while (replacements < 6 || ok < 200) {
    await new Promise((r) => setTimeout(r, 50));
    const next = await spawn();
    const leaving = current[0];
    current = [...current.slice(1), next];
    await c.put('load.test', current.map((b) => ep(b)));
    const deadline = Date.now() + 30_000;
    while ((c.router.inFlight?.(leaving.id) ?? 0) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await closeBackend(leaving);
    replacements++;
  }
  running = false;
  await Promise.all(clients);
  agent.destroy();
  assert.deepEqual(failures, []);
  assert.ok(answeredBy.size >= 4, `answers came from ${[...answeredBy].join(', ')}`);
});

// ── TLS ───────────────────────────────────────────────────────────────────────────────────────────────

/** A user certificate (certificate + key in one PEM) for the given names, as an operator would place it. */
async function userCertificate(names: string[]): Promise<string> {
  const pems = await generate([{ name: 'commonName', value: names[0] }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return `${pems.cert.trim()}\n${pems.private.trim()}\n`;
}

/** The subject CN of the certificate served for an SNI name (none: no SNI sent). */
function servedSubject(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false }, () => {
      const cn = sock.getPeerCertificate().subject?.CN;
      sock.end();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    sock.on('error', reject);
  });
}

function httpsGet(port: number, host: string, urlPath = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: urlPath, servername: host, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('serves HTTPS with the certificate picked by SNI, and the self-signed one for other names and without SNI', async (c) => {
  const httpsPort = c.router.address().httpsPort!;
  assert.ok(httpsPort > 0);
  assert.equal(await servedSubject(httpsPort, 'one.example.test'), 'one.example.test');
  assert.equal(await servedSubject(httpsPort, 'two.example.test'), 'two.example.test');
  assert.equal(await servedSubject(httpsPort, 'a.wild.test'), '*.wild.test');
  assert.equal(await servedSubject(httpsPort, 'app.conf.test'), 'app.conf.test', 'an exact user certificate wins over the self-signed wildcard');
  assert.equal(await servedSubject(httpsPort, 'svc.conf.test'), `*.${DOMAIN}`);
  assert.equal(await servedSubject(httpsPort, 'unknown.example.org'), `*.${DOMAIN}`);
  assert.equal(await servedSubject(httpsPort), `*.${DOMAIN}`);
  assert.ok(fs.existsSync(path.join(c.dataDir, 'tls', 'self-signed.pem')), 'the self-signed certificate is kept in <dataDir>/tls');
});

it('keeps serving HTTPS with the certificates it has when the certificate file is removed under it', async (c) => {
  const b = await c.mk('tls-kept');
  await c.put('kept.conf.test', [ep(b)]);
  const httpsPort = c.router.address().httpsPort!;
  const file = path.join(c.dataDir, 'tls', 'self-signed.pem');
  const pem = fs.readFileSync(file);
  fs.unlinkSync(file);
  try {
    // Past both planes' re-read of the certificate files (every 2 s built in, every 5 s for HAProxy): a
    // failed read must not end the router (this process) nor change what it serves.
    await new Promise((r) => setTimeout(r, 5500));
    const res = await httpsGet(httpsPort, 'kept.conf.test');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'tls-kept');
    assert.equal(await servedSubject(httpsPort, 'kept.conf.test'), `*.${DOMAIN}`);
  } finally {
    fs.writeFileSync(file, pem, { mode: 0o600 });
  }
});

it('proxies HTTPS requests with X-Forwarded-Proto https, and plain ones with http', async (c) => {
  const b = await c.mk('tls-backend');
  await c.put('secure.conf.test', [ep(b)]);
  const httpsPort = c.router.address().httpsPort!;
  const secure = await httpsGet(httpsPort, 'secure.conf.test', '/headers');
  assert.equal(secure.status, 200);
  const h = JSON.parse(secure.body) as Record<string, string>;
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.equal(h['x-forwarded-port'], String(httpsPort));
  const plain = JSON.parse((await c.get('secure.conf.test', { path: '/headers' })).body) as Record<string, string>;
  assert.equal(plain['x-forwarded-proto'], 'http');
  assert.equal(plain['x-forwarded-port'], String(c.port));
});

it('serves a request on an HTTPS connection opened before a structural change with the endpoints of now', async (c) => {
  const before = await c.mk('tls-old-conn-a');
  await c.put('tls-old-conn.conf.test', [ep(before)]);
  const httpsPort = c.router.address().httpsPort!;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const get = (urlPath: string, requestId?: string) =>
    new Promise<Reply & { reused: boolean }>((resolve, reject) => {
      const headers = { host: 'tls-old-conn.conf.test', ...(requestId ? { 'x-request-id': requestId } : {}) };
      const req = https.request({ host: '127.0.0.1', port: httpsPort, path: urlPath, servername: 'tls-old-conn.conf.test', headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    assert.equal((await get('/')).body, 'tls-old-conn-a');
    // A new route is a structural change (HAProxy reloads; the connection above stays with the old worker),
    // then the instance the connection's first request reached is replaced and gone.
    await c.put('tls-old-conn-extra.conf.test', [ep(before)]);
    const after = await c.mk('tls-old-conn-b');
    await c.put('tls-old-conn.conf.test', [ep(after)]);
    await closeBackend(before);
    const requestId = `tls-old-conn-${c.plane.name.replace(/\W+/g, '-')}-${Date.now()}`;
    const r = await get('/headers', requestId);
    assert.ok(r.reused, 'the request went on the connection opened before the change');
    assert.equal(r.status, 200, r.body);
    const h = JSON.parse(r.body) as Record<string, string>;
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-port'], String(httpsPort));
    assert.equal((await get('/')).body, 'tls-old-conn-b');
    const entry = await waitUntil(() => ACCESS.find((e) => e.requestId === requestId), 'the access-log entry of the request');
    assert.equal(entry.route, 'p/tls-old-conn.conf.test/p01');
    assert.equal(entry.endpoint, 'tls-old-conn-b');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ACCESS.filter((e) => e.requestId === requestId).length, 1, 'logged once');
  } finally {
    agent.destroy();
  }
});

it('applies access policies to HTTPS requests too', async (c) => {
  await c.guarded('locked.conf.test', { credentials: [{ username: 'admin', password: 'pw-tls', type: 'basic-auth' }] });
  const r = await httpsGet(c.router.address().httpsPort!, 'locked.conf.test');
  assert.equal(r.status, 401);
  assert.equal(r.headers['www-authenticate'], 'Basic realm="slipway"');
});

it('serves a user certificate placed in <dataDir>/tls/certs while running', async (c) => {
  const httpsPort = c.router.address().httpsPort!;
  assert.equal(await servedSubject(httpsPort, 'late.example.test'), `*.${DOMAIN}`);
  fs.writeFileSync(path.join(c.dataDir, 'tls', 'certs', 'late.example.test.pem'), await userCertificate(['late.example.test']), { mode: 0o600 });
  const deadline = Date.now() + 60_000;
  while ((await servedSubject(httpsPort, 'late.example.test')) !== 'late.example.test') {
    assert.ok(Date.now() < deadline, 'the new certificate is served within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
});

// ── metrics ───────────────────────────────────────────────────────────────────────────────────────────

/** A plain GET on the router's local metrics port. */
function scrape(c: Ctx, urlPath: string): Promise<Reply> {
  const port = c.router.address().metricsPort;
  assert.ok(port, 'the router reports its metrics port');
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      })
      .on('error', reject);
  });
}

/** Samples of a Prometheus text document: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** The `proxy` label of a service's route, read from `/routes` (slipway_route_info). */
async function proxyOf(c: Ctx, service: string): Promise<string> {
  const r = await scrape(c, '/routes');
  assert.equal(r.status, 200);
  const m = new RegExp(`^slipway_route_info\\{proxy="([^"]+)",route="[^"]*",project="p",service="${service.replace(/\./g, '\\.')}",port="p01",protocol="[^"]+"\\} 1$`, 'm').exec(r.body);
  assert.ok(m, `no slipway_route_info for ${service} in:\n${r.body}`);
  return m[1];
}

it('counts the requests to a service on the metrics port, by status class, with latency', async (c) => {
  const b = await c.mk('metrics-a');
  await c.put('metrics-down.test', []);
  await c.put('metrics.test', [ep(b)]);
  for (let i = 0; i < 5; i++) assert.equal((await c.get('metrics.test')).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await c.get('metrics-down.test')).status, 503);
  const [up, down] = [await proxyOf(c, 'metrics.test'), await proxyOf(c, 'metrics-down.test')];
  const r = await scrape(c, '/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  const s = samples(r.body);
  const v = (name: string, proxy: string, extra = '') => s.get(`${name}{proxy="${proxy}"${extra}}`);
  assert.equal(v('haproxy_backend_http_requests_total', up), 5);
  assert.equal(v('haproxy_backend_http_responses_total', up, ',code="2xx"'), 5);
  assert.equal(v('haproxy_backend_http_responses_total', up, ',code="5xx"'), 0);
  assert.equal(v('haproxy_backend_http_requests_total', down), 2);
  assert.equal(v('haproxy_backend_http_responses_total', down, ',code="5xx"'), 2);
  assert.equal(v('haproxy_backend_current_sessions', up), 0);
  const avg = v('haproxy_backend_total_time_average_seconds', up);
  assert.ok(avg !== undefined && avg >= 0, 'a latency average for the route');
  assert.equal(b.hits, 5);
});

it('shows the requests in flight to a service on the metrics port', async (c) => {
  let release: (() => void) | undefined;
  const held = http.createServer((req, res) => {
    req.resume();
    release = () => res.end('late');
  });
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  try {
    await c.put('metrics-slow.test', [{ id: 'slow', host: '127.0.0.1', port: (held.address() as net.AddressInfo).port, weight: 1 }]);
    const proxy = await proxyOf(c, 'metrics-slow.test');
    const inFlight = async () => samples((await scrape(c, '/metrics')).body).get(`haproxy_backend_current_sessions{proxy="${proxy}"}`);
    const answer = c.get('metrics-slow.test');
    const deadline = Date.now() + 30_000;
    // In flight from the router's view, and held by the app: both, before the app lets it go.
    while (!release || (await inFlight()) !== 1) {
      assert.ok(Date.now() < deadline, 'the request shows as in flight within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    assert.equal((await answer).body, 'late');
    while ((await inFlight()) !== 0) {
      assert.ok(Date.now() < deadline, 'the finished request leaves the in-flight count');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    held.closeAllConnections();
    await new Promise((r) => held.close(r));
  }
});

// ── TCP ───────────────────────────────────────────────────────────────────────────────────────────────

interface EchoServer {
  id: string;
  port: number;
  server: net.Server;
}

/** A TCP server answering every chunk with `<id>:<chunk>`. */
async function echoServer(id: string): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => s.write(`${id}:${d.toString()}`));
    s.on('error', () => s.destroy());
  });
  server.on('close', () => undefined);
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { id, port: (server.address() as net.AddressInfo).port, server };
}

/** A TCP client: `say` writes a line and resolves with the next chunk received. */
async function tcpClient(port: number): Promise<{ say(text: string): Promise<string>; close(): void }> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  return {
    say: (text) =>
      new Promise((resolve, reject) => {
        const onClose = () => reject(new Error(`connection closed before an answer to ${text}`));
        sock.once('close', onClose);
        sock.once('data', (d) => {
          sock.off('close', onClose);
          resolve(d.toString());
        });
        sock.write(text);
      }),
    close: () => sock.destroy(),
  };
}

const tcpRoute = (service: string, endpoints: Endpoint[], extra: Partial<Route> = {}): Route => ({ key: `p/${service}/tcp`, hosts: [], project: 'p', service, portName: 'tcp', protocol: 'TCP', endpoints, maintenance: false, ...extra });
const echoEp = (e: EchoServer): Endpoint => ({ id: e.id, host: '127.0.0.1', port: e.port, weight: 1 });

it('forwards a TCP route on its own port, keeps open connections through an endpoint change, and sends new ones to the new endpoint', async (c) => {
  const [a, b] = [await echoServer('tcp-a'), await echoServer('tcp-b')];
  try {
    await c.putRoute(tcpRoute('echo', [echoEp(a)]));
    const port = c.router.tcpPortOf?.('p/echo/tcp');
    assert.ok(port, 'the router reports the TCP route port');
    const first = await tcpClient(port);
    assert.equal(await first.say('hello'), 'tcp-a:hello');

    await c.putRoute(tcpRoute('echo', [echoEp(b)]));
    assert.equal(c.router.tcpPortOf?.('p/echo/tcp'), port, 'the port stays with the route');
    assert.equal(await first.say('still'), 'tcp-a:still', 'an open connection keeps its endpoint (drain)');
    const second = await tcpClient(port);
    assert.equal(await second.say('again'), 'tcp-b:again');
    first.close();
    second.close();

    // A second TCP route gets a port of its own; HTTP routes have none.
    await c.putRoute(tcpRoute('echo2', [echoEp(a)]));
    const port2 = c.router.tcpPortOf?.('p/echo2/tcp');
    assert.ok(port2 && port2 !== port);
    const third = await tcpClient(port2);
    assert.equal(await third.say('two'), 'tcp-a:two');
    third.close();
    await c.put('http-only.test', []);
    assert.equal(c.router.tcpPortOf?.('p/http-only.test/p01'), undefined);

    const saved = JSON.parse(fs.readFileSync(path.join(c.dataDir, 'router', 'tcp-ports.json'), 'utf8')) as { ports: Record<string, { port: number }> };
    assert.equal(saved.ports['p/echo/tcp'].port, port, 'the assignment is kept in <dataDir>/router/tcp-ports.json');
  } finally {
    for (const e of [a, b]) await new Promise((r) => e.server.close(r));
  }
});

it('balances new TCP connections over the endpoints and closes them in maintenance', async (c) => {
  const [x, y] = [await echoServer('tcp-x'), await echoServer('tcp-y')];
  try {
    await c.putRoute(tcpRoute('spread', [echoEp(x), echoEp(y)]));
    const port = c.router.tcpPortOf?.('p/spread/tcp');
    assert.ok(port);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const cl = await tcpClient(port);
      seen.add((await cl.say('hi')).split(':')[0]);
      cl.close();
    }
    assert.deepEqual([...seen].sort(), ['tcp-x', 'tcp-y']);
    await c.putRoute(tcpRoute('spread', [echoEp(x), echoEp(y)], { maintenance: true }));
    assert.equal(c.router.tcpPortOf?.('p/spread/tcp'), port);
    const closed = await tcpClient(port).then(
      (cl) => cl.say('anyone?').then(() => false, () => true),
      () => true,
    );
    assert.ok(closed, 'a connection to a route in maintenance is closed without an answer');
  } finally {
    for (const e of [x, y]) await new Promise((r) => e.server.close(r));
  }
});

// ── HTTP/2 ────────────────────────────────────────────────────────────────────────────────────────────

/** An h2c app (node:http2 without TLS) answering `<id> <protocol version> <path>`. */
async function h2cServer(id: string): Promise<{ port: number; server: http2.Http2Server; close(): Promise<void> }> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer((req, res) => {
    req.resume();
    res.setHeader('x-app-saw-host', String(req.headers[':authority'] ?? req.headers.host ?? ''));
    res.end(`${id} ${req.httpVersion} ${req.url}`);
  });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A request from an HTTP/2 client over TLS (ALPN); resolves with the negotiated protocol and the answer. */
async function h2Get(port: number, host: string, urlPath = '/'): Promise<{ alpn: string; status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { servername: host, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    const alpn = String(session.alpnProtocol);
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':path': urlPath, ':authority': host });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (headers = h));
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => resolve({ alpn, status: Number(headers[':status']), body: Buffer.concat(chunks).toString(), headers }));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.close();
  }
}

it('speaks HTTP/2 over TLS to an h2 client and h2c to the app of an HTTP/2 route', async (c) => {
  const app = await h2cServer('h2-app');
  try {
    await c.put('h2.conf.test', [{ id: 'h2-app', host: '127.0.0.1', port: app.port, weight: 1 }], { protocol: 'HTTP/2' });
    const httpsPort = c.router.address().httpsPort!;
    for (let i = 0; i < 3; i++) {
      const r = await h2Get(httpsPort, 'h2.conf.test', `/x${i}`);
      assert.equal(r.alpn, 'h2', 'ALPN picks h2');
      assert.equal(r.status, 200);
      assert.equal(r.body, `h2-app 2.0 /x${i}`, 'the app is reached over HTTP/2 (h2c)');
      assert.equal(r.headers['x-app-saw-host'], 'h2.conf.test');
    }
    // An HTTP/1.1 client on the same TLS port, and on the plain port, reaches the same h2c app.
    assert.equal((await httpsGet(httpsPort, 'h2.conf.test', '/one')).body, 'h2-app 2.0 /one');
    assert.equal((await c.get('h2.conf.test', { path: '/plain' })).body, 'h2-app 2.0 /plain');
    // An h2 request's access-log path is its path and query, as for HTTP/1.1 (not the absolute URI).
    const tag = `/h2-logged-${c.plane.name.replace(/\W+/g, '-')}-${Date.now()}`;
    assert.equal((await h2Get(httpsPort, 'h2.conf.test', `${tag}?q=1`)).status, 200);
    const entry = await waitUntil(() => ACCESS.find((e) => e.path.startsWith(tag) || e.path.includes(`h2.conf.test${tag}`)), 'the access-log entry of an h2 request');
    assert.equal(entry.path, `${tag}?q=1`);
    assert.equal(entry.host, 'h2.conf.test');
  } finally {
    await app.close();
  }
});

it('answers HTTP/1.1 clients over TLS on an HTTP/2 route whose app runs in another process', async (c) => {
  // An h2c app in a child process: the response's last bytes arrive apart from its stream's close (with the
  // app in the test's own process they rarely did, which hid a proxy that cut such responses short).
  const app = spawn(process.execPath, ['-e', "const s = require('node:http2').createServer((q, r) => { q.resume(); r.end('apart ' + q.url); }); s.listen(0, '127.0.0.1', () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => app.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    await c.put('apart.conf.test', [{ id: 'apart', host: '127.0.0.1', port, weight: 1 }], { protocol: 'HTTP/2' });
    const httpsPort = c.router.address().httpsPort!;
    for (let i = 0; i < 10; i++) assert.equal((await httpsGet(httpsPort, 'apart.conf.test', `/n${i}`)).body, `apart /n${i}`);
  } finally {
    app.kill();
  }
});

it('serves an HTTP/1.1 route to an h2 client over TLS', async (c) => {
  const b = await c.mk('h1-app');
  await c.put('h1.conf.test', [ep(b)]);
  const r = await h2Get(c.router.address().httpsPort!, 'h1.conf.test');
  assert.equal(r.alpn, 'h2');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'h1-app');
});

// ── TLS passthrough ───────────────────────────────────────────────────────────────────────────────────

/**
 * An app that terminates TLS itself, with its own self-signed certificate: an echo (`<id>:<chunk>`) on
 * every connection, or its request headers as JSON for an HTTP request to `/headers`.
 */
async function tlsApp(id: string, names: string[]): Promise<{ id: string; port: number; fingerprint: string; close(): Promise<void> }> {
  const pem = await userCertificate(names);
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: pem, key: pem }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => {
      const text = d.toString();
      if (!text.startsWith('GET /headers ')) return void s.write(`${id}:${text}`);
      const headers: Record<string, string> = {};
      for (const line of text.split('\r\n').slice(1)) if (line.includes(':')) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      const body = JSON.stringify({ id, headers });
      s.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    id,
    port: (server.address() as net.AddressInfo).port,
    fingerprint: new crypto.X509Certificate(pem).fingerprint256,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A TLS client on the router's TLS port: the certificate it was shown, and `say` for an echo exchange. */
async function tlsClient(port: number, servername: string): Promise<{ fingerprint: string; subject: string; say(text: string): Promise<string>; close(): void }> {
  const sock = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`TLS connection for ${servername} closed during the handshake`)));
  });
  const cert = sock.getPeerCertificate();
  const cn = cert.subject?.CN;
  return {
    fingerprint: cert.fingerprint256,
    subject: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
    say: (text) =>
      new Promise((resolve, reject) => {
        const onClose = () => reject(new Error(`connection closed before an answer to ${text}`));
        sock.once('close', onClose);
        sock.once('data', (d: Buffer) => {
          sock.off('close', onClose);
          resolve(d.toString());
        });
        sock.write(text);
      }),
    close: () => sock.destroy(),
  };
}

/** Whether a TLS connection for the name is closed by the router instead of reaching an app. */
async function tlsRefused(port: number, servername: string): Promise<boolean> {
  try {
    const cl = await tlsClient(port, servername);
    try {
      await cl.say('anyone?');
      return false;
    } catch {
      return true;
    } finally {
      cl.close();
    }
  } catch {
    return true;
  }
}

const ptRoute = (service: string, hosts: string[], endpoints: Endpoint[], extra: Partial<Route> = {}): Route => ({ key: `p/${service}/https`, hosts, project: 'p', service, portName: 'https', protocol: 'HTTP', endpoints, maintenance: false, tlsPassthrough: true, ...extra });
const tlsEp = (a: { id: string; port: number }): Endpoint => ({ id: a.id, host: '127.0.0.1', port: a.port, weight: 1 });

it("TLS passthrough: the app's own certificate reaches the client, while other hosts on the TLS port keep the router's", async (c) => {
  const app = await tlsApp('pt-app', ['pt.conf.test', 'pt.custom.test']);
  try {
    await c.putRoute(ptRoute('pt', ['pt.conf.test', 'pt.custom.test'], [tlsEp(app)]));
    const plain = await c.mk('pt-neighbour');
    await c.put('neighbour.conf.test', [ep(plain)]);
    const httpsPort = c.router.address().httpsPort!;
    for (const host of ['pt.conf.test', 'PT.Custom.Test']) {
      const cl = await tlsClient(httpsPort, host);
      assert.equal(cl.fingerprint, app.fingerprint, `${host}: the app's certificate, not the router's`);
      assert.equal(await cl.say('hello'), 'pt-app:hello');
      cl.close();
    }
    // The bytes are the client's own: the router adds no X-Forwarded-* header to what it cannot read.
    const r = await httpsGet(httpsPort, 'pt.conf.test', '/headers');
    const seen = JSON.parse(r.body) as { id: string; headers: Record<string, string> };
    assert.equal(seen.id, 'pt-app');
    assert.equal(seen.headers['x-forwarded-for'], undefined);
    assert.equal(seen.headers['x-forwarded-proto'], undefined);

    // Everything else on the TLS port is terminated by the router as before, HTTP/2 included.
    const other = await tlsClient(httpsPort, 'neighbour.conf.test');
    assert.notEqual(other.fingerprint, app.fingerprint);
    assert.equal(other.subject, `*.${DOMAIN}`);
    other.close();
    assert.equal(await servedSubject(httpsPort), `*.${DOMAIN}`, 'no SNI: the router certificate');
    assert.equal(await servedSubject(httpsPort, 'one.example.test'), 'one.example.test', 'user certificates still served');
    const h1 = await httpsGet(httpsPort, 'neighbour.conf.test', '/headers');
    assert.equal(h1.status, 200);
    const fwd = JSON.parse(h1.body) as Record<string, string>;
    assert.equal(fwd['x-forwarded-proto'], 'https');
    assert.equal(fwd['x-forwarded-port'], String(httpsPort), 'the port the client reached, not an internal one');
    assert.match(fwd['x-forwarded-for'] ?? '', /^(::ffff:)?127\.0\.0\.1$/, 'the client address');
    const h2 = await h2Get(httpsPort, 'neighbour.conf.test');
    assert.equal(h2.alpn, 'h2', 'ALPN still picks h2 on the terminated path');
    assert.equal(h2.body, 'pt-neighbour');
    // The client's address survives the SNI step: IP policies decide on it over HTTPS.
    await c.guarded('ip4-tls.conf.test', { ip: [{ addresses: ['127.0.0.1'], action: 'ALLOW' }] });
    await c.guarded('ip6-tls.conf.test', { ip: [{ addresses: ['::1'], action: 'ALLOW' }] });
    assert.equal((await httpsGet(httpsPort, 'ip4-tls.conf.test')).status, 200);
    assert.equal((await httpsGet(httpsPort, 'ip6-tls.conf.test')).status, 403);
    // Bytes that are no ClientHello are closed, and the port carries on.
    const junk = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: httpsPort }, () => s.write('GET / HTTP/1.1\r\nhost: pt.conf.test\r\n\r\n'));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    });
    assert.ok(!junk.includes('pt-app'), 'a non-TLS request never reaches the passthrough app');
    // A ClientHello that never arrives whole: the router closes the connection after its wait.
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: httpsPort }, () => s.write(Buffer.from([22, 3, 1, 0x02, 0x00, 1, 0, 1])));
      s.on('error', () => undefined);
      s.on('close', () => resolve());
    });
    assert.equal((await httpsGet(httpsPort, 'neighbour.conf.test')).body, 'pt-neighbour');
  } finally {
    await c.putRoute(ptRoute('pt', ['pt.conf.test', 'pt.custom.test'], [], { maintenance: true, tlsPassthrough: false }));
    await app.close();
  }
});

it('TLS passthrough: balances connections, follows endpoint changes, and keeps an open connection through a removal (drain)', async (c) => {
  const [a, b] = [await tlsApp('pt-a', ['ptlb.conf.test']), await tlsApp('pt-b', ['ptlb.conf.test'])];
  try {
    const httpsPort = c.router.address().httpsPort!;
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(a)]));
    const first = await tlsClient(httpsPort, 'ptlb.conf.test');
    assert.equal(await first.say('one'), 'pt-a:one');

    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(a), tlsEp(b)]));
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const cl = await tlsClient(httpsPort, 'ptlb.conf.test');
      seen.add((await cl.say('hi')).split(':')[0]);
      cl.close();
    }
    assert.deepEqual([...seen].sort(), ['pt-a', 'pt-b'], 'an added endpoint takes new connections');

    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(b)]));
    assert.equal(await first.say('still'), 'pt-a:still', 'an open connection keeps its removed endpoint (drain)');
    for (let i = 0; i < 3; i++) {
      const cl = await tlsClient(httpsPort, 'ptlb.conf.test');
      assert.equal(await cl.say('new'), 'pt-b:new', 'new connections go to the remaining endpoint');
      cl.close();
    }
    first.close();

    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(b)], { maintenance: true }));
    assert.ok(await tlsRefused(httpsPort, 'ptlb.conf.test'), 'maintenance closes the connection');
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], []));
    assert.ok(await tlsRefused(httpsPort, 'ptlb.conf.test'), 'no ready endpoint closes the connection');
    const access = accessFromSecurity({ ip: [{ addresses: ['127.0.0.1'], action: 'ALLOW' }] }, 'ptlb');
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(b)], { access }));
    assert.ok(await tlsRefused(httpsPort, 'ptlb.conf.test'), 'access policies cannot be checked on passthrough: refused');
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [tlsEp(b)]));
    const back = await tlsClient(httpsPort, 'ptlb.conf.test');
    assert.equal(await back.say('back'), 'pt-b:back');
    back.close();

    // Passthrough off: the router terminates TLS for the host again (and, with no passthrough route left,
    // serves the TLS port without the SNI step).
    const h = await c.mk('ptlb-http');
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [ep(h)], { tlsPassthrough: false }));
    assert.equal(await servedSubject(httpsPort, 'ptlb.conf.test'), `*.${DOMAIN}`);
    assert.equal((await httpsGet(httpsPort, 'ptlb.conf.test')).body, 'ptlb-http');
    assert.equal((await h2Get(httpsPort, 'ptlb.conf.test')).alpn, 'h2');
  } finally {
    await c.putRoute(ptRoute('ptlb', ['ptlb.conf.test'], [], { maintenance: true, tlsPassthrough: false }));
    for (const x of [a, b]) await x.close();
  }
});

// ── the suite per data plane ──────────────────────────────────────────────────────────────────────────

for (const plane of PLANES) {
  describe(`router conformance: ${plane.name}`, () => {
    const routes = new Map<string, Route>();
    const backends: Backend[] = [];
    let ctx: Ctx;
    let dataDir = '';

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-conf-'));
      // User certificates an operator placed before the start (the self-signed one is the router's to make).
      const certs = path.join(dataDir, 'tls', 'certs');
      fs.mkdirSync(certs, { recursive: true });
      for (const names of [['one.example.test'], ['two.example.test', 'www.two.example.test'], ['*.wild.test'], ['app.conf.test']]) {
        fs.writeFileSync(path.join(certs, `${names[0].replace('*', '_wildcard')}.pem`), await userCertificate(names), { mode: 0o600 });
      }
      const router = plane.create(dataDir);
      await router.start();
      const port = router.address().httpPort;
      const mk = async (id: string) => {
        const b = await backend(id);
        backends.push(b);
        return b;
      };
      const putRoute = async (route: Route) => {
        routes.set(route.key, route);
        router.setTable({ routes: [...routes.values()] });
        await router.settled?.();
      };
      const put = (host: string, endpoints: Endpoint[], extra: Partial<Route> = {}) =>
        putRoute({ key: `p/${host}/p01`, hosts: [host], project: 'p', service: host, portName: 'p01', protocol: 'HTTP', endpoints, maintenance: false, ...extra });
      ctx = {
        plane,
        router,
        port,
        dataDir,
        put,
        putRoute,
        mk,
        guarded: async (host, security) => {
          const b = await mk(host);
          const access = accessFromSecurity(security, host);
          assert.ok(access, `the security of ${host} restricts something`);
          await put(host, [ep(b)], { access });
          return b;
        },
        get: (host, ask = {}) =>
          new Promise((resolve, reject) => {
            const headers: Record<string, string> = { host, ...ask.headers };
            if (ask.auth !== undefined) headers.authorization = basic(ask.auth);
            const req = http.request({ host: ask.from ?? '127.0.0.1', port, path: ask.path ?? '/', headers, agent: ask.agent ?? false }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (d: Buffer) => chunks.push(d));
              res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
              res.on('error', reject);
            });
            req.on('error', reject);
            req.end();
          }),
      };
    });

    after(async () => {
      await ctx?.router.stop();
      await Promise.all(backends.map((b) => closeBackend(b).catch(() => undefined)));
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    for (const k of CASES) {
      const reason = plane.cannot[k.name];
      test(k.name, reason ? { skip: `${plane.name} cannot: ${reason}` } : {}, () => k.run(ctx));
    }
  });
}
