/**
 * What runs under which lease (the table in docs/high-availability.md): the names, the service controller's
 * shards, and the gate every controller queue's pass goes through.
 */
import type { PassResult } from '../controllers/queue.ts';
import { StaleLeaseError } from '../errors/errors.ts';
import type { LeaseKeeper } from './lease-keeper.ts';
import { underLease } from './fence.ts';

/** Leases of keyed controllers (besides the service controller's shards) and of singletons. */
export const LEASES = {
  addons: 'addons',
  volumes: 'volumes',
  builds: 'builds',
  jobs: 'jobs',
  cron: 'cron',
  flows: 'flows',
  autoscaler: 'autoscaler',
  metrics: 'metrics',
  logs: 'logs',
  alerts: 'alerts',
} as const;

/** The lease of a service key: `services/<n>`, n = FNV-1a of the key modulo the shard count. */
export function serviceLease(key: string, shards: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `services/${h % shards}`;
}

export function serviceLeases(shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => `services/${i}`);
}

/**
 * A queue's pass, run only while this replica holds the key's lease, under that lease's epoch (see
 * fence.ts): a key whose lease is elsewhere is dropped (its holder's resync has it), and a pass whose write
 * is refused as stale ends there, its lease already given up by the keeper.
 */
export function gatedPass(keeper: LeaseKeeper, leaseOf: (key: string) => string, pass: (key: string) => Promise<PassResult>): (key: string) => Promise<PassResult> {
  return async (key) => {
    const lease = keeper.held(leaseOf(key));
    if (!lease) return undefined;
    try {
      return await underLease(lease, () => pass(key));
    } catch (err) {
      if (err instanceof StaleLeaseError) return undefined;
      throw err;
    }
  };
}
