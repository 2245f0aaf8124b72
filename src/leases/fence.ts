/**
 * Fencing: every write a controller makes under a lease carries the lease's epoch and is refused when that
 * epoch is stale. A controller pass runs inside `underLease` (the epoch held when the pass began, kept in
 * async context so the pass's background work, such as an instance stop, carries it too); the controller's
 * store is `fencedStore`, whose writes each run in a transaction that first checks the lease at that epoch
 * (src/store/leases-repo.ts `fenced`), and `guard()` is called right before each side effect outside the
 * store (an instance start or stop, a route change).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { Store } from '../store/store.ts';
import type { HeldLease } from '../store/leases-repo.ts';
import { StaleLeaseError } from '../errors/errors.ts';
import type { LeaseKeeper } from './lease-keeper.ts';

const context = new AsyncLocalStorage<HeldLease>();

/** Run `fn` (a controller pass) as work of `lease` at its current epoch. */
export function underLease<T>(lease: HeldLease, fn: () => Promise<T>): Promise<T> {
  return context.run(lease, fn);
}

/** The lease the running pass works under, if any. */
export function currentLease(): HeldLease | undefined {
  return context.getStore();
}

/** Method names of the repositories that only read: they run as they are. Every other call is a write and fenced. */
const READ = /^(find|list|get|active|last|count|authFor|runtimeKeys|exists|latest|current|now)/;

/**
 * Refuses every write: the store that read-named methods run on. A method named as a read that writes would
 * otherwise run unfenced (a stale holder's write let through); with this it fails at once, naming the method's
 * query kind, wherever it is called.
 */
class RefuseWrites implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const kind = args.node.kind;
    if (kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode') {
      throw new Error(`a repository method named as a read made a write (${kind}): under a lease it would not be fenced; rename it (see READ in leases/fence.ts)`);
    }
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/**
 * The store as a controller working under a lease sees it: inside a pass (see `underLease`) each repository
 * write runs in a fenced transaction and is refused with StaleLeaseError once the lease has moved on; outside
 * a pass (an API read through the controller) it is the plain store.
 */
export function fencedStore(store: Store, keeper: LeaseKeeper): Store {
  const repos = new Map<PropertyKey, object>();
  // Reads run on repositories over the same database that refuse writes (RefuseWrites).
  const readOnly = store.withDb(store.db.withPlugin(new RefuseWrites())) as unknown as Record<PropertyKey, object>;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'db' || prop === 'withDb' || prop === 'close' || prop === 'leases' || typeof value !== 'object' || value === null) return value;
      let repo = repos.get(prop);
      if (!repo) {
        const reads = new Map<string, unknown>();
        repo = new Proxy(value, {
          get(r, method, rr) {
            const fn = Reflect.get(r, method, rr) as unknown;
            if (typeof fn !== 'function' || typeof method !== 'string') return fn;
            if (READ.test(method)) {
              // Bound to the read-only repository: what a read calls on `this` (a row's mapping) is not a write,
              // and a write it makes is refused rather than let through unfenced.
              let bound = reads.get(method);
              if (!bound) {
                const ro = readOnly[prop]!;
                reads.set(method, (bound = (Reflect.get(ro, method) as (...a: unknown[]) => unknown).bind(ro)));
              }
              return bound;
            }
            return (...args: unknown[]) => {
              const lease = currentLease();
              if (!lease) return (fn as (...a: unknown[]) => unknown).apply(r, args);
              return keeper.fenced(lease, async (trx) => {
                const inner = (target.withDb(trx) as unknown as Record<PropertyKey, Record<string, (...a: unknown[]) => Promise<unknown>>>)[prop as string]!;
                return inner[method]!(...args);
              });
            };
          },
        });
        repos.set(prop, repo);
      }
      return repo;
    },
  });
}

/**
 * Called right before a side effect outside the store (an instance start or stop, a route change): inside a
 * pass, refuses (throws StaleLeaseError) unless the pass's lease is still held here at the same epoch, checked
 * both against this replica's own deadline and in the store. Outside a pass it does nothing.
 */
export async function guard(keeper: LeaseKeeper): Promise<void> {
  const lease = currentLease();
  if (!lease) return;
  await keeper.check(lease);
  // The store's check can pass just before a pause; the monotonic deadline catches a pause since.
  if (!keeper.current(lease)) {
    const err = new StaleLeaseError(lease.name, lease.epoch);
    keeper.refused(err);
    throw err;
  }
}
