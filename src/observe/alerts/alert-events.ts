/**
 * Which of slipway's events are alerts, as Northflank names them: the trigger a notification integration
 * subscribes to (`events['trigger:…']`), and the `event` and `data` its webhook receives.
 *
 * | slipway event (kind / reason)                          | trigger                                          | event                          |
 * |--------------------------------------------------------|--------------------------------------------------|--------------------------------|
 * | rollout Failed, rollout Canceled, release RolledBack   | trigger:service:deployment:status-update         | deployment:status-update       |
 * | instance OOMKilled (each), Crashed (3rd, then every 10th restart: crash-looping) | trigger:infrastructure:service:container-crash | infrastructure:service:container-crash |
 * | any kind starting `autoscal` (the autoscaler's events) | trigger:service:autoscaling:event                | service:autoscaling:event      |
 * | build Failed                                           | trigger:build:failure                            | build:failure                  |
 * | backup Failed (addon backups), volume Failed of a backup | trigger:addon-backup:failure                   | addon-backup:failure           |
 *
 * Uptime checks alert the integrations they name, with the event `uptime:down` / `uptime:up`.
 */
export interface SlipwayEvent {
  id: number;
  projectId: string;
  serviceId: string | null;
  kind: string;
  reason: string;
  message: string;
  createdAt: string;
}

export interface Alert {
  trigger: string;
  event: string;
  data: Record<string, unknown>;
}

/** The restart counts at which a crashing instance is reported as crash-looping. */
export function isCrashLoopRestart(n: number): boolean {
  return n === 3 || (n > 3 && n % 10 === 0);
}

export function alertOf(e: SlipwayEvent): Alert | undefined {
  const base = { projectId: e.projectId, ...(e.serviceId ? { serviceId: e.serviceId } : {}), reason: e.reason, message: e.message, eventId: e.id, createdAt: e.createdAt };
  const as = (trigger: string, data: Record<string, unknown> = {}): Alert => ({ trigger, event: trigger.slice('trigger:'.length), data: { ...base, ...data } });
  if (e.kind === 'rollout' && (e.reason === 'Failed' || e.reason === 'Canceled')) {
    const back = /return(?:ed|ing) to release (\d+)/.exec(e.message);
    return as('trigger:service:deployment:status-update', { status: 'FAILED', ...(back ? { returnsToRelease: Number(back[1]) } : {}) });
  }
  if (e.kind === 'release' && e.reason === 'RolledBack') return as('trigger:service:deployment:status-update', { status: 'ROLLED_BACK' });
  if (e.kind === 'instance' && e.reason === 'OOMKilled') return as('trigger:infrastructure:service:container-crash', { instance: instanceOf(e.message), oomKilled: true });
  if (e.kind === 'instance' && e.reason === 'Crashed') {
    const n = Number(/restart (\d+)/.exec(e.message)?.[1] ?? 0);
    if (isCrashLoopRestart(n)) return as('trigger:infrastructure:service:container-crash', { instance: instanceOf(e.message), restarts: n, crashLooping: true });
    return undefined;
  }
  if (e.kind.startsWith('autoscal')) return as('trigger:service:autoscaling:event');
  if (e.kind === 'build' && e.reason === 'Failed') return as('trigger:build:failure');
  if ((e.kind === 'backup' && e.reason === 'Failed') || (e.kind === 'volume' && e.reason === 'Failed' && /backup/.test(e.message))) return as('trigger:addon-backup:failure');
  return undefined;
}

function instanceOf(message: string): string | undefined {
  return /instance (\S+)/.exec(message)?.[1];
}
