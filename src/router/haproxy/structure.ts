/**
 * From a routing table to HAProxy's structure: the backends (with their server slots carried over from
 * what HAProxy holds), the host map and the SNI map; and the internal-source ACL files of routes whose
 * access looks at internal traffic. Pure but for the ACL files it writes.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { RoutingTable } from '../table.ts';
import { usesInternal } from '../access.ts';
import { cliArg } from './runtime-api.ts';
import { SERVER_PREFIX, accessRules, backendName, balanceFor, isMappableHost } from './config.ts';
import { COOKIE_NAME, HEADER_NAME, PIN_VALUE } from '../split.ts';
import { assignSlots, type Backend } from './slots.ts';

export interface Structure {
  backends: Backend[];
  hosts: Map<string, string>;
  sni: Map<string, string>;
}

export interface StructureContext {
  /** what HAProxy holds now, by route key */
  applied: Map<string, Backend>;
  /** ports of the table's TCP routes */
  tcpPorts: Map<string, number>;
  slotsPerBackend: number;
  /** TLS is on (passthrough routes get their `mode tcp` backend) */
  tls: boolean;
  pagesDir: string;
  internalDir: string;
  /**
   * `keep`: a route HAProxy holds keeps the backend name it has (a spare's, see spares.ts), for a pass without
   * a reload; `own`: every backend takes its route's own name (`proxyName(routeKey)`), as a reload writes it.
   */
  names: 'keep' | 'own';
}

/**
 * Desired backends, host map and SNI map for a table, with slots carried over from what HAProxy holds.
 * A TLS passthrough route (with TLS on) has a second, `mode tcp` backend for its hosts' TLS connections,
 * keyed `<route key>#tls`, whose slots follow the same endpoints.
 */
export function structureOf(table: RoutingTable, ctx: StructureContext): Structure {
  const backends: Backend[] = [];
  const hosts = new Map<string, string>();
  /** HTTP backend → its passthrough backend */
  const passthroughOf = new Map<string, string>();
  const seen = new Set<string>();
  for (const route of table.routes) {
    if (seen.has(route.key)) continue;
    seen.add(route.key);
    const tcp = route.protocol === 'TCP';
    const tcpPort = tcp ? ctx.tcpPorts.get(route.key) : undefined;
    if (tcp && tcpPort === undefined) continue;
    const prev = ctx.applied.get(route.key);
    // The same route object as the backend was made from: the backend is as it was (a pass costs what changed,
    // not the table). Its slots are the model's own, which frees drained ones in place (see the router).
    if (ctx.names === 'keep' && prev?.route === route && !tcp && route.tlsPassthrough !== true) {
      backends.push(prev);
      for (const h of mappedHostsOf(route)) hosts.set(h, prev.name);
      continue;
    }
    const name = ctx.names === 'keep' && prev ? prev.name : backendName(route.key);
    const b: Backend = {
      key: route.key,
      route,
      name,
      mode: tcp ? 'tcp' : 'http',
      ...(tcp ? { tcpPort } : {}),
      ...(route.protocol === 'HTTP/2' ? { serverProto: 'h2' as const } : {}),
      hosts: route.hosts,
      balance: balanceFor(route.loadBalancing, tcp ? 'tcp' : 'http'),
      maintenance: route.maintenance,
      // Access policies are HTTP rules; a TCP route has none to apply.
      access: tcp ? { userlists: [], rules: [] } : accessRules(name, route.access, ctx.pagesDir, internalFile(ctx.internalDir, name)),
      ...(!tcp && usesInternal(route.access) ? { internal: [...new Set(route.internalSources ?? [])].filter((a) => net.isIP(a)).sort() } : {}),
      slotCount: prev?.slotCount ?? ctx.slotsPerBackend,
      slots: assignSlots(prev?.slots ?? [], route),
    };
    while (b.slots.length > b.slotCount) b.slotCount *= 2;
    if (!tcp) {
      const pins = pinsOf(route, b.slots);
      if (pins) b.pins = pins;
    }
    backends.push(b);
    // Later routes win a shared host, as in the built-in router.
    if (!tcp) for (const h of mappedHostsOf(route)) hosts.set(h, name);
    if (!tcp && route.tlsPassthrough === true && ctx.tls) {
      const key = `${route.key}#tls`;
      const had = ctx.applied.get(key);
      const pt: Backend = {
        key,
        route,
        name: `${name}_tls`,
        mode: 'tcp',
        passthrough: true,
        hosts: route.hosts,
        balance: balanceFor(route.loadBalancing, 'tcp'),
        // Access policies are HTTP rules it cannot check on encrypted bytes: such a route refuses passthrough.
        maintenance: route.maintenance || !!route.access,
        access: { userlists: [], rules: [] },
        slotCount: had?.slotCount ?? ctx.slotsPerBackend,
        slots: assignSlots(had?.slots ?? [], route),
      };
      while (pt.slots.length > pt.slotCount) pt.slotCount *= 2;
      backends.push(pt);
      passthroughOf.set(name, pt.name);
    }
  }
  const sni = new Map<string, string>();
  for (const [h, be] of hosts) {
    const pt = passthroughOf.get(be);
    if (pt) sni.set(h, pt);
  }
  return { backends, hosts, sni };
}

type Route = RoutingTable['routes'][number];
const mappedHosts = new WeakMap<Route, string[]>();

/** A route's hosts that go into the host map, lower-cased; kept by route object (a table's routes do not change). */
function mappedHostsOf(route: Route): string[] {
  let hs = mappedHosts.get(route);
  if (!hs) {
    hs = route.hosts.map((x) => x.toLowerCase()).filter(isMappableHost);
    mappedHosts.set(route, hs);
  }
  return hs;
}

/**
 * A canary route's pins as HAProxy ACL criteria and the new release's server slots. Names and values are
 * validated where a rollout is asked for (split.ts's HEADER_NAME, PIN_VALUE); anything else is dropped here
 * rather than written into the configuration.
 */
function pinsOf(route: RoutingTable['routes'][number], slots: Backend['slots']): Backend['pins'] {
  const pins = route.canary?.pins;
  if (!pins?.length) return undefined;
  const ids = new Set(route.canary!.endpointIds);
  const servers = slots.flatMap((s, i) => (s.endpoint && !s.removed && ids.has(s.endpoint.id) ? [`${SERVER_PREFIX}${i + 1}`] : []));
  const conditions = pins.flatMap((p) => {
    if (!PIN_VALUE.test(p.value)) return [];
    if ('header' in p) return HEADER_NAME.test(p.header) ? [`req.hdr(${p.header.toLowerCase()}) -m str ${p.value}`] : [];
    return COOKIE_NAME.test(p.cookie) ? [`req.cook(${p.cookie}) -m str ${p.value}`] : [];
  });
  return servers.length && conditions.length ? { conditions, servers } : undefined;
}

export function internalFile(internalDir: string, backend: string): string {
  return path.join(internalDir, `${backend}.acl`);
}

/**
 * Writes the internal-source files that changed (a reload reads them) and returns the Runtime API commands
 * that bring the running worker's ACLs to them, without a reload.
 */
export function internalSourceCommands(backends: Backend[], applied: Map<string, Backend>, internalDir: string): string[] {
  const cmds: string[] = [];
  for (const b of backends) {
    if (!b.internal) continue;
    const file = internalFile(internalDir, b.name);
    const had = applied.get(b.key)?.internal;
    if (had && had.join('\n') === b.internal.join('\n')) continue;
    writeAtomic(file, b.internal.map((a) => `${a}\n`).join(''));
    if (!had) continue; // the running worker has no such ACL yet: the reload this backend needs loads the file
    const want = new Set(b.internal);
    const have = new Set(had);
    for (const a of b.internal) if (!have.has(a)) cmds.push(`add acl ${cliArg(file)} ${a}`);
    for (const a of had) if (!want.has(a)) cmds.push(`del acl ${cliArg(file)} ${a}`);
  }
  return cmds;
}

export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  // 0600: the configuration holds the password hashes of basic-auth users.
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
