/**
 * Requests (and TCP connections) in flight per endpoint id: a stop drains an endpoint by waiting for its
 * count to reach 0.
 */
export class InFlight {
  private readonly counts = new Map<string, number>();

  /** Counts one for `id`; the function returned takes it back, once however often it is called. */
  begin(id: string): () => void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.counts.get(id) ?? 1) - 1;
      if (n > 0) this.counts.set(id, n);
      else this.counts.delete(id);
    };
  }

  /** The count of `id` (bound: balancers are handed it as their load reading). */
  readonly of = (id: string): number => this.counts.get(id) ?? 0;

  /** Every endpoint with something in flight, and its count. */
  all(): Map<string, number> {
    return new Map(this.counts);
  }
}
