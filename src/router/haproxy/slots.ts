/**
 * The router's model of HAProxy's backends and their server slots, and the pure rules that move it: which
 * slot an endpoint takes and the Runtime API commands that turn one slot into another (whether a change
 * needs a reload is spares.ts's servedWithoutReload).
 */
import net from 'node:net';
import type { Endpoint, Route } from '../table.ts';
import { FREE_SLOT as FREE_SLOT_SPEC, type BackendSpec } from './config.ts';

const MAX_WEIGHT = 256;

export type AdminState = 'ready' | 'drain' | 'maint';

export interface Slot {
  /** The endpoint this slot carries; undefined for a free slot. */
  endpoint?: Endpoint;
  addr: string;
  port: number;
  weight: number;
  state: AdminState;
  /** The endpoint left the table: the slot drains and is freed when nothing is in flight on it. */
  removed: boolean;
}

export interface Backend extends BackendSpec {
  key: string;
  /** The route as last handed over (its labels name the backend's metrics in routes.prom). */
  route: Route;
  hosts: string[];
  /** Slot i is HAProxy's server `s<i+1>`; slots past the end of the array are free. */
  slots: Slot[];
  /** Sorted internal sources, for a route whose access looks at internal traffic (its ACL file's lines). */
  internal?: string[];
}

export const FREE_SLOT: Slot = { ...FREE_SLOT_SPEC, removed: false };

/** Slots for a route: endpoints keep their slot; removed ones drain in place; new ones take free slots. */
export function assignSlots(prev: Slot[], route: Route): Slot[] {
  const slots = prev.map((s) => ({ ...s }));
  const wanted = new Map<string, Endpoint>();
  for (const e of route.endpoints) if (!wanted.has(e.id) && Number.isInteger(e.port) && e.port > 0 && e.port < 65536 && net.isIP(e.host)) wanted.set(e.id, e);
  const placed = new Set<string>();
  for (const s of slots) {
    if (!s.endpoint) continue;
    const e = wanted.get(s.endpoint.id);
    if (e && !placed.has(e.id) && e.host === s.addr && e.port === s.port) {
      placed.add(e.id);
      Object.assign(s, ready(e));
    } else if (!s.removed) {
      s.removed = true;
      s.state = 'drain';
    }
  }
  for (const e of wanted.values()) {
    if (placed.has(e.id)) continue;
    const free = slots.findIndex((s) => !s.endpoint);
    if (free >= 0) slots[free] = { ...slots[free], ...ready(e) };
    else slots.push({ ...FREE_SLOT, ...ready(e) });
  }
  return slots;
}

export function ready(e: Endpoint): Slot {
  const weight = Math.min(MAX_WEIGHT, Math.max(0, Math.round(e.weight ?? 1)));
  // Weight 0 keeps the endpoint in the table but sends it nothing new: HAProxy's drain state.
  return { endpoint: e, addr: e.host, port: e.port, weight: Math.max(1, weight), state: weight === 0 ? 'drain' : 'ready', removed: false };
}

export function slotCommands(server: string, was: Slot, will: Slot): string[] {
  const cmds: string[] = [];
  if (will.addr !== was.addr || will.port !== was.port) cmds.push(`set server ${server} addr ${will.addr} port ${will.port}`);
  if (will.weight !== was.weight) cmds.push(`set server ${server} weight ${will.weight}`);
  if (will.state !== was.state) cmds.push(`set server ${server} state ${will.state}`);
  return cmds;
}

export function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
