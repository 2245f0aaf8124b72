/**
 * Access policies of a route, in one data-plane-neutral model: built from a port's `security` (the
 * Northflank shape) by `accessFromSecurity`, decided per request by `evaluate` in the built-in router, and
 * compiled to ACLs and `http-request` rules by `accessRules` in haproxy/config.ts. Both planes read this model
 * only, so they decide alike.
 *
 * Semantics (seed 000, `ports[].security`):
 * - A *policy* has `deny` addresses (DENY rules of `ip` and `policies`: refused whatever else passes), and
 *   checks of four kinds: `ip` (the ALLOW rules: the client address is in one), `credentials` (HTTP basic
 *   auth with one of the users), `headers` (every header rule matches) and `never` (a check slipway cannot
 *   perform, such as SSO, which fails closed). `verificationMode` `and` (the default here: the seed gives
 *   none) puts the checks in `all` (each must pass); `or` puts them in `any` (one must pass).
 * - Decision order, the same on both planes: a denied address → 403; a failing `all` check other than
 *   credentials → 403; no passing `any` check → 401 if one of them is credentials, else 403; failing `all`
 *   credentials → 401 (with `WWW-Authenticate: Basic realm="slipway"`); otherwise the request goes on.
 * - `securePathConfiguration` (on unless `enabled: false`): of the path rules matching the request path
 *   (`prefix`, `exact`, `regex`, on the raw path without query), the one with the highest `priority` wins, the
 *   first listed among equals. `unprotected` lets the request through unchecked. `protected` applies the
 *   rule's own policies (`requiredPolicies` → `all`, `orPolicies` → `any`) plus the port's DENY addresses,
 *   or the port's policy when the rule has none. A path no rule matches gets the port's policy.
 * - Header rules: names are case-insensitive; a value is compared with the last occurrence of the header.
 *   Without `regexMode` the value must equal the rule's, where `*` stands for any run of characters; with
 *   it the value is a regular expression searched in the header (unanchored: write `^…$` to anchor). A rule
 *   without a name, with an unusual name or with an invalid expression matches nothing.
 * - Addresses: IPv4 and IPv6, single or CIDR; an IPv4 client seen as `::ffff:a.b.c.d` is its IPv4 address.
 *   Entries that are not addresses match nothing.
 * - Internal traffic: a request whose client address is that of a running instance of the route's own
 *   project (`Route.internalSources`, from the runtime's instances of every kind, where the runtime gives each instance an
 *   address of its own: the docker runtime's containers; instances of the process runtime share the host's
 *   addresses and are never internal). With `securePathConfiguration.skipSecurityPoliciesForInternalTrafficViaPublicDns`
 *   (and path rules enabled) it skips every policy; SSO with `allowInternalTrafficViaPublicDns` is a check that
 *   internal traffic passes (and, with no SSO provider, nothing else does). `validateInternalTraffic` concerns
 *   traffic that does not cross the router: accepted, nothing to do here.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { isSha512Crypt, sha512Crypt, verifySha512Crypt } from './password-hash.ts';

export interface AccessUser {
  username: string;
  /** SHA-512 crypt (`$6$…`); plain passwords never reach the router. */
  passwordHash: string;
}

export interface HeaderMatch {
  /** Lower-case header name (token characters only). */
  name: string;
  /** Regular expression source (searched, not anchored), valid in JavaScript and PCRE2. */
  pattern: string;
}

export type AccessCheck =
  | { kind: 'ip'; allow: string[] }
  | { kind: 'credentials'; users: AccessUser[] }
  | { kind: 'headers'; rules: HeaderMatch[] }
  | { kind: 'never'; reason: string }
  /** Passes for internal traffic only (SSO with `allowInternalTrafficViaPublicDns`). */
  | { kind: 'internal' };

export interface AccessPolicy {
  /** Normalised CIDRs (`a.b.c.d/n`, `x::/n`) refused outright. */
  deny: string[];
  all: AccessCheck[];
  any: AccessCheck[];
}

export interface AccessPathRule {
  match: 'prefix' | 'exact' | 'regex';
  path: string;
  priority: number;
  /** false: `unprotected`, the request passes unchecked. */
  protected: boolean;
  /** For a protected rule: the policy to apply (the port's when the rule names none). */
  policy: AccessPolicy;
}

export interface RouteAccess {
  /** The port's policy: for every path when `paths` is empty, else for paths no rule matches. */
  policy: AccessPolicy;
  /** Sorted by priority, highest first (stable): the first matching rule wins. */
  paths: AccessPathRule[];
  /** Internal traffic skips every policy (`skipSecurityPoliciesForInternalTrafficViaPublicDns`). */
  skipInternal?: boolean;
}

export interface AccessRequest {
  /** Client address as the socket reports it (`::ffff:` IPv4-mapped forms are accepted). */
  ip: string;
  /** Header values by lower-case name (the last occurrence when repeated). */
  headers: Record<string, string | undefined>;
  /** Raw request path, without the query. */
  path: string;
  /** The `Authorization` header, if any. */
  authorization?: string;
  /** Whether the client is an instance of the route's project (see `isInternal`). */
  internal?: boolean;
}

export type AccessDecision = 'allow' | { status: 401 | 403; wwwAuthenticate?: string };

export const REALM = 'slipway';
export const WWW_AUTHENTICATE = `Basic realm="${REALM}"`;

// ── from the Northflank `security` object ─────────────────────────────────────────────────────────────

interface SecurityPolicies {
  credentials?: { username?: string; password?: string; type?: string }[];
  ip?: { addresses?: string[]; action?: string }[];
  policies?: { addresses?: string[]; action?: string }[];
  sso?: { organizationId?: string; directoryGroupIds?: string[]; allowInternalTrafficViaPublicDns?: boolean; validateInternalTraffic?: boolean };
  headers?: { regexMode?: boolean; name?: string; value?: string }[];
}

interface Security extends SecurityPolicies {
  verificationMode?: 'or' | 'and';
  securePathConfiguration?: {
    enabled?: boolean;
    skipSecurityPoliciesForInternalTrafficViaPublicDns?: boolean;
    rules?: { paths?: { path?: string; routingMode?: string; priority?: number }[]; accessMode?: string; securityPolicies?: { orPolicies?: SecurityPolicies; requiredPolicies?: SecurityPolicies } }[];
  };
}

/**
 * The access model of a port's `security`, or undefined when it restricts nothing. `saltKey` makes the
 * hash of a password still stored in plain text (written before hashing existed) deterministic, so an
 * unchanged spec yields an unchanged route.
 */
export function accessFromSecurity(security: unknown, saltKey = ''): RouteAccess | undefined {
  if (!security || typeof security !== 'object') return undefined;
  const sec = security as Security;
  const kinds = policyParts(sec, saltKey);
  const base: AccessPolicy = sec.verificationMode === 'or' ? { deny: kinds.deny, all: [], any: kinds.checks } : { deny: kinds.deny, all: kinds.checks, any: [] };
  const paths: AccessPathRule[] = [];
  const spc = sec.securePathConfiguration;
  if (spc && spc.enabled !== false) {
    for (const rule of spc.rules ?? []) {
      const isProtected = rule.accessMode !== 'unprotected';
      const required = policyParts(rule.securityPolicies?.requiredPolicies ?? {}, saltKey);
      const or = policyParts(rule.securityPolicies?.orPolicies ?? {}, saltKey);
      const own = required.checks.length + or.checks.length + required.deny.length + or.deny.length > 0;
      const policy: AccessPolicy = own ? { deny: unique([...base.deny, ...required.deny, ...or.deny]), all: required.checks, any: or.checks } : base;
      for (const p of rule.paths ?? []) {
        const match = p.routingMode === 'exact' || p.routingMode === 'regex' ? p.routingMode : 'prefix';
        // A path rule without a usable path matches nothing: drop it.
        if (typeof p.path !== 'string' || !p.path || (match === 'regex' ? !isPortableRegex(p.path) : !/^\/[\x21-\x7e]*$/.test(p.path))) continue;
        paths.push({ match, path: p.path, priority: Number.isInteger(p.priority) ? p.priority! : 0, protected: isProtected, policy });
      }
    }
    // Array.prototype.sort is stable: among equal priorities the first listed wins.
    paths.sort((a, b) => b.priority - a.priority);
  }
  if (isOpen(base) && paths.every((p) => !p.protected || isOpen(p.policy))) return undefined;
  const skipInternal = !!spc && spc.enabled !== false && spc.skipSecurityPoliciesForInternalTrafficViaPublicDns === true;
  return { policy: base, paths, ...(skipInternal ? { skipInternal } : {}) };
}

/** Whether deciding this route's requests needs to know which clients are internal. */
export function usesInternal(access: RouteAccess | undefined): boolean {
  if (!access) return false;
  const inPolicy = (p: AccessPolicy) => [...p.all, ...p.any].some((c) => c.kind === 'internal');
  return !!access.skipInternal || inPolicy(access.policy) || access.paths.some((r) => inPolicy(r.policy));
}

function isOpen(p: AccessPolicy): boolean {
  return p.deny.length === 0 && p.all.length === 0 && p.any.length === 0;
}

function policyParts(p: SecurityPolicies, saltKey: string): { deny: string[]; checks: AccessCheck[] } {
  const checks: AccessCheck[] = [];
  const deny: string[] = [];
  const allow: string[] = [];
  let hasAllowRule = false;
  for (const rule of [...(p.ip ?? []), ...(p.policies ?? [])]) {
    const cidrs = (rule.addresses ?? []).map(normaliseCidr).filter((c): c is string => c !== undefined);
    if (rule.action === 'DENY') deny.push(...cidrs);
    else if (rule.action === 'ALLOW') {
      hasAllowRule = true;
      allow.push(...cidrs);
    }
  }
  // An ALLOW rule whose entries are all unusable still restricts: it allows nobody.
  if (hasAllowRule) checks.push({ kind: 'ip', allow: unique(allow) });
  const creds = (p.credentials ?? []).filter((c) => typeof c.username === 'string' && typeof c.password === 'string');
  if (creds.length) {
    checks.push({
      kind: 'credentials',
      users: creds.map((c) => ({ username: c.username!, passwordHash: isSha512Crypt(c.password!) ? c.password! : sha512Crypt(c.password!, deterministicSalt(saltKey, c.username!, c.password!)) })),
    });
  }
  if (p.headers?.length) {
    const rules = p.headers.map(headerMatch);
    checks.push(rules.every((r): r is HeaderMatch => r !== undefined) ? { kind: 'headers', rules } : { kind: 'never', reason: 'a header rule matches nothing' });
  }
  if (p.sso && (p.sso.organizationId || p.sso.directoryGroupIds?.length)) {
    // No SSO provider here: the check fails closed, except for internal traffic when the port allows it so.
    checks.push(p.sso.allowInternalTrafficViaPublicDns === true ? { kind: 'internal' } : { kind: 'never', reason: 'SSO is not available in slipway' });
  }
  return { deny: unique(deny), checks };
}

function deterministicSalt(key: string, username: string, password: string): string {
  return crypto.createHmac('sha256', password).update(`${key}\0${username}`).digest('base64').replace(/[^A-Za-z0-9./]/g, '.').slice(0, 16);
}

/** Header names that both planes can name safely (HAProxy sample-fetch arguments). */
const HEADER_NAME = /^[A-Za-z0-9_-]{1,128}$/;

function headerMatch(h: { regexMode?: boolean; name?: string; value?: string }): HeaderMatch | undefined {
  if (typeof h.name !== 'string' || !HEADER_NAME.test(h.name) || typeof h.value !== 'string') return undefined;
  const pattern = h.regexMode ? h.value : `^${h.value.split('*').map(escapeRegex).join('.*')}$`;
  return isPortableRegex(pattern) ? { name: h.name.toLowerCase(), pattern } : undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * A regular expression both planes read alike: valid in JavaScript, free of control characters (a
 * configuration line holds it) and of JavaScript-only forms PCRE2 rejects or reads differently.
 */
export function isPortableRegex(source: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are what a portable pattern may not hold
  if (source.length > 1024 || /[\x00-\x1f\x7f]/.test(source)) return false;
  // `[^]` and `[]` are JavaScript-only; `\u`/`\x{…}` and `\k<…>` differ between the dialects.
  if (/\[\^?\]|\\u|\\x\{|\\k|\\c/.test(source)) return false;
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** `a.b.c.d`, `a.b.c.d/n`, `x::y`, `x::/n` → a CIDR with its prefix; undefined for anything else. */
export function normaliseCidr(entry: string): string | undefined {
  if (typeof entry !== 'string') return undefined;
  const [addr, len, extra] = entry.trim().split('/');
  if (extra !== undefined) return undefined;
  const family = net.isIP(addr);
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(bits >= 0 && bits <= max)) return undefined;
  return `${addr.toLowerCase()}/${bits}`;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

// ── per request (the built-in router) ─────────────────────────────────────────────────────────────────

interface CompiledPolicy {
  policy: AccessPolicy;
  deny: net.BlockList | undefined;
  allow: Map<AccessCheck, net.BlockList>;
  headers: Map<HeaderMatch, RegExp>;
}

interface Compiled {
  base: CompiledPolicy;
  paths: { rule: AccessPathRule; test: (path: string) => boolean; policy: CompiledPolicy }[];
}

const compiledCache = new WeakMap<RouteAccess, Compiled>();

function blockList(cidrs: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    list.addSubnet(addr, Number(bits), net.isIP(addr) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

function compilePolicy(policy: AccessPolicy, seen: Map<AccessPolicy, CompiledPolicy>): CompiledPolicy {
  const had = seen.get(policy);
  if (had) return had;
  const allow = new Map<AccessCheck, net.BlockList>();
  const headers = new Map<HeaderMatch, RegExp>();
  for (const c of [...policy.all, ...policy.any]) {
    if (c.kind === 'ip') allow.set(c, blockList(c.allow));
    if (c.kind === 'headers') for (const r of c.rules) headers.set(r, new RegExp(r.pattern));
  }
  const out = { policy, deny: policy.deny.length ? blockList(policy.deny) : undefined, allow, headers };
  seen.set(policy, out);
  return out;
}

function compile(access: RouteAccess): Compiled {
  let c = compiledCache.get(access);
  if (c) return c;
  const seen = new Map<AccessPolicy, CompiledPolicy>();
  c = {
    base: compilePolicy(access.policy, seen),
    paths: access.paths.map((rule) => {
      let test: (path: string) => boolean;
      if (rule.match === 'exact') test = (p) => p === rule.path;
      else if (rule.match === 'prefix') test = (p) => p.startsWith(rule.path);
      else {
        const re = new RegExp(rule.path);
        test = (p) => re.test(p);
      }
      return { rule, test, policy: compilePolicy(rule.policy, seen) };
    }),
  };
  compiledCache.set(access, c);
  return c;
}

/** The client address as both planes compare it: IPv4-mapped IPv6 becomes plain IPv4. */
function clientAddress(ip: string): { addr: string; type: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped ? mapped[1] : ip;
  const family = net.isIP(addr);
  return family ? { addr, type: family === 4 ? 'ipv4' : 'ipv6' } : undefined;
}

const sourceSets = new WeakMap<string[], Set<string>>();

/**
 * Whether a client address is one of a route's internal sources (exact addresses; an IPv4 client seen as
 * `::ffff:a.b.c.d` is its IPv4 address).
 */
export function isInternal(sources: string[] | undefined, ip: string): boolean {
  if (!sources?.length) return false;
  let set = sourceSets.get(sources);
  if (!set) sourceSets.set(sources, (set = new Set(sources.map((a) => clientAddress(a)?.addr.toLowerCase() ?? a))));
  const client = clientAddress(ip);
  return !!client && set.has(client.addr.toLowerCase());
}

/**
 * An IPv4 client is in IPv4 ranges and in IPv6 ranges holding its IPv4-mapped form (`::ffff:a.b.c.d`);
 * an IPv6 client only in IPv6 ranges, even an IPv4-compatible `::a.b.c.d` one (HAProxy is made to agree).
 */
function inList(list: net.BlockList, client: { addr: string; type: 'ipv4' | 'ipv6' }): boolean {
  if (client.type === 'ipv6') return list.check(client.addr, 'ipv6');
  return list.check(client.addr, 'ipv4') || list.check(`::ffff:${client.addr}`, 'ipv6');
}

/** Verified `Authorization` values, so a kept client does not pay for SHA-512 crypt on every request. */
const verified = new Map<string, boolean>();
const VERIFIED_MAX = 4096;

function credentialsPass(users: AccessUser[], authorization: string | undefined): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const user = users.find((u) => u.username === username);
  if (!user) return false;
  const key = crypto.createHash('sha256').update(`${user.passwordHash}\0${password}`).digest('base64');
  let ok = verified.get(key);
  if (ok === undefined) {
    ok = verifySha512Crypt(password, user.passwordHash);
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(key, ok);
  }
  return ok;
}

function checkPasses(c: AccessCheck, p: CompiledPolicy, req: AccessRequest, client: ReturnType<typeof clientAddress>): boolean {
  switch (c.kind) {
    case 'ip':
      return !!client && inList(p.allow.get(c)!, client);
    case 'credentials':
      return credentialsPass(c.users, req.authorization);
    case 'headers':
      return c.rules.every((r) => {
        const v = req.headers[r.name];
        return v !== undefined && p.headers.get(r)!.test(v);
      });
    case 'internal':
      return !!req.internal;
    case 'never':
      return false;
  }
}

const FORBIDDEN = { status: 403 } as const;
const UNAUTHORIZED = { status: 401, wwwAuthenticate: WWW_AUTHENTICATE } as const;

function evaluatePolicy(p: CompiledPolicy, req: AccessRequest): AccessDecision {
  const client = clientAddress(req.ip);
  if (p.deny && (!client || inList(p.deny, client))) return FORBIDDEN;
  const { all, any } = p.policy;
  for (const c of all) if (c.kind !== 'credentials' && !checkPasses(c, p, req, client)) return FORBIDDEN;
  if (any.length && !any.some((c) => checkPasses(c, p, req, client))) return any.some((c) => c.kind === 'credentials') ? UNAUTHORIZED : FORBIDDEN;
  for (const c of all) if (c.kind === 'credentials' && !checkPasses(c, p, req, client)) return UNAUTHORIZED;
  return 'allow';
}

/** Decides one request. Pure apart from a bounded cache of verified credentials. */
export function evaluate(access: RouteAccess | undefined, req: AccessRequest): AccessDecision {
  if (!access) return 'allow';
  if (access.skipInternal && req.internal) return 'allow';
  const c = compile(access);
  for (const r of c.paths) {
    if (!r.test(req.path)) continue;
    return r.rule.protected ? evaluatePolicy(r.policy, req) : 'allow';
  }
  return evaluatePolicy(c.base, req);
}
