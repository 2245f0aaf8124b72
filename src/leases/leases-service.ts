/** `GET /leases`: every lease in the store with its holder, epoch and expiry, and this replica's own view. */
import type { AuthService, Principal } from '../services/auth.ts';
import type { LeaseKeeper } from './lease-keeper.ts';

export interface LeaseView {
  name: string;
  holder: string;
  epoch: number;
  expiresAt: string;
  /** milliseconds until expiry on the database's clock (negative: expired, free to take) */
  expiresInMs: number;
  acquiredAt: string;
  renewedAt: string;
}

export interface LeasesAnswer {
  /** the replica that answered */
  nodeId: string;
  leases: LeaseView[];
  /** what the answering replica holds, and the writes it sent that were refused as stale */
  local: ReturnType<LeaseKeeper['local']>;
}

export class LeasesService {
  constructor(
    private readonly auth: AuthService,
    private readonly keeper: LeaseKeeper,
  ) {}

  get nodeId(): string {
    return this.keeper.nodeId;
  }

  async list(principal: Principal): Promise<LeasesAnswer> {
    this.auth.authorize(principal, null, 'own');
    const { now, leases } = await this.keeper.list();
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      nodeId: this.keeper.nodeId,
      leases: leases.map((l) => ({ name: l.name, holder: l.holder, epoch: l.epoch, expiresAt: iso(l.expiresAt), expiresInMs: l.expiresAt - now, acquiredAt: iso(l.acquiredAt), renewedAt: iso(l.renewedAt) })),
      local: this.keeper.local(),
    };
  }
}
