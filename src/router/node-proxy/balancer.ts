/**
 * Endpoint choice for one route. Smooth weighted round robin after nginx
 * (ngx_http_upstream_round_robin.c): each pick adds every endpoint's weight to its current value, takes
 * the largest and subtracts the total from it, which spreads picks evenly (weights 5,1,1 → a a b a c a a).
 * `leastConnection` takes the endpoint with the fewest requests in flight, ties broken by the same rotation.
 */
import type { Endpoint, LoadBalancingMode } from '../table.ts';

export interface Pickable {
  ep: Endpoint;
  current: number;
}

export class Balancer {
  private readonly items: Pickable[];
  private readonly total: number;

  constructor(
    endpoints: Endpoint[],
    private readonly mode: LoadBalancingMode,
    private readonly inFlight: (id: string) => number,
  ) {
    this.items = endpoints.filter((e) => e.weight > 0).map((ep) => ({ ep, current: 0 }));
    this.total = this.items.reduce((s, i) => s + i.ep.weight, 0);
  }

  get size(): number {
    return this.items.length;
  }

  /**
   * The next endpoint, skipping `exclude` (a retry must go elsewhere); undefined if none is left. With a
   * consistent mode and a `key` (client address, header value or path), the same key keeps reaching the
   * same endpoint while it lives: weighted rendezvous hashing, so an endpoint leaving moves only its own keys.
   */
  pick(exclude?: string, key?: string): Endpoint | undefined {
    if (key !== undefined && (this.mode === 'consistentHash' || this.mode === 'consistentReplicaRouting')) return this.rendezvous(key, exclude);
    let best: Pickable | undefined;
    let bestLoad = Infinity;
    for (const it of this.items) {
      if (it.ep.id === exclude) continue;
      it.current += it.ep.weight;
      if (this.mode === 'leastConnection') {
        const load = this.inFlight(it.ep.id) / it.ep.weight;
        if (load < bestLoad || (load === bestLoad && best && it.current > best.current)) {
          best = it;
          bestLoad = load;
        }
      } else if (!best || it.current > best.current) {
        best = it;
      }
    }
    if (best) best.current -= exclude ? this.total - (this.items.find((i) => i.ep.id === exclude)?.ep.weight ?? 0) : this.total;
    return best?.ep;
  }

  private rendezvous(key: string, exclude?: string): Endpoint | undefined {
    let best: Endpoint | undefined;
    let bestScore = Infinity;
    for (const { ep } of this.items) {
      if (ep.id === exclude) continue;
      // -ln(u)/w with u uniform in (0,1]: the smallest wins, in proportion to the weights.
      const u = (hash32(`${key}\u0000${ep.id}`) + 1) / 4294967297;
      const score = -Math.log(u) / ep.weight;
      if (score < bestScore) {
        bestScore = score;
        best = ep;
      }
    }
    return best;
  }
}

/** FNV-1a over UTF-16 code units with a final avalanche (murmur3's fmix32): fast, well spread. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
