/**
 * One pass of the HAProxy router, planned: from what HAProxy holds (`applied`) and the backends a table needs,
 * the Runtime API commands for the running worker (`now`), those for servers that exist only once the
 * reload this pass may need has run (`afterReload`), and the slots whose drain begins. Pure.
 */
import { endpointMapCommand } from './access-log-format.ts';
import { SERVER_PREFIX } from './config.ts';
import { FREE_SLOT, slotCommands, type Backend, type Slot } from './slots.ts';

export interface SlotPlan {
  now: string[];
  afterReload: string[];
  /** `backend/server` → endpoint id of slots whose drain begins with this pass */
  newlyDraining: [string, string][];
  /** slots that carry an endpoint in the table again (a drain there is over) */
  serving: string[];
  /** some backend's slots moved (else the saved model need not be written again) */
  moved: boolean;
}

export interface PlanOptions {
  /** the endpoints map file, when the access log is on (a slot's endpoint id is set before it takes traffic) */
  endpointsMap?: string;
  /** slots already draining (a removed route's are not counted again) */
  draining: { has(loc: string): boolean };
}

export function planSlots(backends: Backend[], next: Map<string, Backend>, applied: Map<string, Backend>, opts: PlanOptions): SlotPlan {
  const plan: SlotPlan = { now: [], afterReload: [], newlyDraining: [], serving: [], moved: false };
  for (const b of backends) {
    const prev = applied.get(b.key);
    if (prev === b) continue;
    if (!prev || prev.name !== b.name || prev.slotCount !== b.slotCount) plan.moved = true;
    // The running worker knows the backend by the name it loaded; a reload may give it its own name.
    const running = prev?.name ?? b.name;
    // Make before break: a backend's slots that take traffic change before those that stop taking it. HAProxy
    // serves requests on its other threads while the Runtime API runs a line of commands, so a slot put in
    // drain before its replacement is ready would leave a moment with no server (a 503).
    const breaking: { now: string[]; afterReload: string[] } = { now: [], afterReload: [] };
    // Some endpoint that will take traffic has a slot only the reload makes (the backend outgrew its slots).
    let servesAfterReload = false;
    for (let i = 0; i < Math.max(b.slots.length, prev?.slots.length ?? 0); i++) {
      const was = prev?.slots[i] ?? FREE_SLOT;
      const will = b.slots[i] ?? FREE_SLOT;
      if (!sameSlot(was, will)) plan.moved = true;
      const server = `${SERVER_PREFIX}${i + 1}`;
      // Slots the running worker already has change now; new ones exist only after the reload (which writes
      // every slot as it will be, so a renamed backend needs nothing after it).
      const inRunning = !!prev && i < prev.slotCount;
      const target = inRunning ? `${running}/${server}` : `${b.name}/${server}`;
      const cmds = slotCommands(target, was, will);
      // The access log names the endpoint a slot carries: the map learns it before the slot takes traffic.
      if (opts.endpointsMap && b.mode === 'http' && was.endpoint?.id !== will.endpoint?.id && will.endpoint) cmds.unshift(endpointMapCommand(opts.endpointsMap, target, will.endpoint.id));
      const takesTraffic = will.endpoint !== undefined && will.state === 'ready';
      if (takesTraffic && !inRunning && cmds.length) servesAfterReload = true;
      if (takesTraffic) (inRunning ? plan.now : plan.afterReload).push(...cmds);
      else (inRunning ? breaking.now : breaking.afterReload).push(...cmds);
      const loc = `${b.name}/${server}`;
      if (will.removed && !was.removed) plan.newlyDraining.push([loc, will.endpoint!.id]);
      // An endpoint back in the table before its drain ended serves again from the same slot.
      if (!will.removed) plan.serving.push(loc);
    }
    // Nor may the running worker lose servers before the reload brings their replacements: it stays as it is
    // until then, and the reload writes every slot as it will be (the old worker, stopping, hands its new
    // requests to the new one).
    if (!servesAfterReload) plan.now.push(...breaking.now);
    plan.afterReload.push(...breaking.afterReload);
  }
  for (const [key, prev] of applied) {
    if (next.has(key)) continue;
    plan.moved = true;
    // A removed route: its endpoints drain in the running worker, which keeps them after the reload (as an
    // old worker) until their requests are done.
    prev.slots.forEach((s, i) => {
      if (!s.endpoint || s.state === 'maint') return;
      const loc = `${prev.name}/${SERVER_PREFIX}${i + 1}`;
      if (s.state !== 'drain') plan.now.push(`set server ${loc} state drain`);
      if (!opts.draining.has(loc)) plan.newlyDraining.push([loc, s.endpoint.id]);
    });
  }
  return plan;
}

function sameSlot(a: Slot, b: Slot): boolean {
  return a.endpoint?.id === b.endpoint?.id && a.removed === b.removed && a.state === b.state && a.addr === b.addr && a.port === b.port && a.weight === b.weight;
}

/**
 * Slots a reload that renames a backend leaves behind: requests in flight on its old name (in the old
 * worker) still count for their endpoints until a count shows none, and a slot draining under the old name
 * drains under the new one too (so it is freed).
 */
export function renamedSlots(backends: Backend[], applied: Map<string, Backend>): [string, string][] {
  const out: [string, string][] = [];
  for (const b of backends) {
    const prev = applied.get(b.key);
    if (!prev || prev.name === b.name) continue;
    prev.slots.forEach((s, i) => s.endpoint && s.state !== 'maint' && out.push([`${prev.name}/${SERVER_PREFIX}${i + 1}`, s.endpoint.id]));
    b.slots.forEach((s, i) => s.endpoint && s.removed && out.push([`${b.name}/${SERVER_PREFIX}${i + 1}`, s.endpoint.id]));
  }
  return out;
}
