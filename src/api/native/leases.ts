/** `GET /leases` (admin): the control plane's leases across replicas (docs/high-availability.md). */
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import type { LeasesService } from '../../leases/leases-service.ts';

const Lease = Type.Object({
  name: Type.String({ description: 'a controller (`builds`), a shard of the service controller (`services/0`) or a singleton (`cron`)' }),
  holder: Type.String({ description: 'the node id of the replica holding it' }),
  epoch: Type.Integer({ description: 'the fencing token: grows by one on every takeover' }),
  expiresAt: Type.String({ format: 'date-time' }),
  expiresInMs: Type.Integer({ description: 'on the database clock; negative when expired (free to take)' }),
  acquiredAt: Type.String({ format: 'date-time' }),
  renewedAt: Type.String({ format: 'date-time' }),
});

const Answer = Type.Object({
  nodeId: Type.String({ description: 'the replica that answered' }),
  leases: Type.Array(Lease),
  local: Type.Object({
    nodeId: Type.String(),
    held: Type.Array(Type.Object({ name: Type.String(), epoch: Type.Integer() })),
    refusedWrites: Type.Integer({ description: 'writes this replica sent under a lease that had been taken over, refused' }),
    lastRefusal: Type.Optional(Type.Object({ lease: Type.String(), epoch: Type.Integer(), at: Type.String({ format: 'date-time' }), message: Type.String() })),
  }),
});

export function registerLeases(app: Api, leases: LeasesService): void {
  app.get('/leases', { schema: { tags: ['control plane'], summary: 'Every lease of the control plane: holder, epoch and expiry (admin)', response: { 200: Answer } } }, async (req) => leases.list(req.principal));
}
