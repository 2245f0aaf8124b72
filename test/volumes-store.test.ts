/**
 * The volumes repository on SQLite and PostgreSQL: one volume per service, version-checked changes, the
 * operation column round-trips, usage as a number, and backups listed by volume.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore, SUPPORTED_DATABASES } from './support/databases.ts';
import { ConflictError, VersionConflictError } from '../src/errors/errors.ts';
import type { VolumeSpec } from '../src/domain/volume.ts';

const spec: VolumeSpec = { name: 'data', tags: [], mounts: [{ containerMountPath: '/data' }], accessMode: 'ReadWriteOnce', storageClassName: 'ssd', storageSizeMb: 1024 };

for (const db of SUPPORTED_DATABASES) {
  describe(`volumes store (${db})`, () => {
    it('keeps one volume per service, checks versions, and round-trips operations and usage', async () => {
      const { store, cleanup } = await openTestStore(db);
      try {
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        const a = await store.volumes.create({ projectId: 'p', id: 'data', uid: 'vol-a', spec, attachedServiceId: 'web', status: 'PENDING', operation: null });
        await store.volumes.create({ projectId: 'p', id: 'free', uid: 'vol-b', spec: { ...spec, name: 'free' }, attachedServiceId: null, status: 'BOUND', operation: null });
        await store.volumes.create({ projectId: 'p', id: 'free2', uid: 'vol-c', spec: { ...spec, name: 'free2' }, attachedServiceId: null, status: 'BOUND', operation: null });
        await assert.rejects(store.volumes.create({ projectId: 'p', id: 'data', uid: 'vol-d', spec, attachedServiceId: null, status: 'PENDING', operation: null }), ConflictError);
        await assert.rejects(store.volumes.create({ projectId: 'p', id: 'other', uid: 'vol-e', spec, attachedServiceId: 'web', status: 'PENDING', operation: null }), ConflictError);
        const free = await store.volumes.get('p', 'free');
        await assert.rejects(store.volumes.update(free, { attachedServiceId: 'web' }), ConflictError);

        const op = { kind: 'backup' as const, backupId: 'b1', serviceId: 'web', requestedAt: new Date().toISOString() };
        const b = await store.volumes.update(a, { operation: op, status: 'BOUND' });
        assert.deepEqual(b.operation, op);
        await assert.rejects(store.volumes.update(a, { operation: null }), VersionConflictError);
        assert.equal((await store.volumes.forService('p', 'web'))?.id, 'data');

        await store.volumes.setUsage('p', 'data', 5_000_000_000);
        assert.equal((await store.volumes.get('p', 'data')).usageBytes, 5_000_000_000);

        await store.volumes.createBackup({ id: 'backup-1', projectId: 'p', volumeId: 'data', name: 'one', source: { accessMode: 'ReadWriteOnce', storageSizeMb: 1024, storageClassName: 'ssd' } });
        await store.volumes.setBackupStatus('backup-1', 'completed', { sizeBytes: 12 });
        const backups = await store.volumes.listBackups('p', 'data', { limit: 10 });
        assert.deepEqual(backups.map((x) => [x.id, x.status, x.sizeBytes]), [['backup-1', 'completed', 12]]);
        assert.equal((await store.volumes.findProjectBackup('p', 'backup-1'))?.volumeId, 'data');
        assert.deepEqual((await store.volumes.list('p', { limit: 10 })).map((v) => v.id), ['data', 'free', 'free2']);
      } finally {
        await cleanup();
      }
    });
  });
}
