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

  /** The next endpoint, skipping `exclude` (a retry must go elsewhere); undefined if none is left. */
  pick(exclude?: string): Endpoint | undefined {
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
}
