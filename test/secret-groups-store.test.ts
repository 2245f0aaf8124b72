/** The secret group and tag repositories on SQLite and PostgreSQL: sealed values, unique names, versioned writes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../src/errors/errors.ts';
import type { SecretGroupSpec } from '../src/domain/secret-group.ts';

const spec = (name: string, priority = 10): SecretGroupSpec => ({
  name,
  type: 'secret',
  secretType: 'environment',
  priority,
  tags: [],
  restrictions: { restricted: true, nfObjects: [{ id: 'web', type: 'service' }], tags: ['production'], tagMatchCondition: 'or' },
  addonDependencies: [],
  externalAddonDependencies: [],
});

for (const dbId of SUPPORTED_DATABASES) {
  describe(`secret groups store on ${dbId}`, () => {
    it('seals values, keeps names unique per project, refuses a stale write and goes with its project', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        for (const id of ['p', 'q']) await store.projects.create({ id, name: id, spec: {} });
        const values = { variables: { DB_PASSWORD: 'group-secret-93' }, files: { '/etc/key': { data: Buffer.from('file-secret-12').toString('base64') } } };
        const g = await store.secretGroups.create({ projectId: 'p', id: 'prod', spec: spec('prod'), values });
        await store.secretGroups.create({ projectId: 'q', id: 'prod', spec: spec('prod'), values: { variables: {}, files: {} } });
        await assert.rejects(store.secretGroups.create({ projectId: 'p', id: 'prod', spec: spec('prod'), values }), ConflictError);
        const raw = JSON.stringify(await store.db.selectFrom('secret_groups').selectAll().execute());
        assert.ok(!raw.includes('group-secret-93') && !raw.includes(values.files['/etc/key'].data), 'values sealed at rest');
        assert.deepEqual((await store.secretGroups.get('p', 'prod')).values, values);
        assert.deepEqual((await store.secretGroups.get('p', 'prod')).spec, spec('prod'));

        const moved = await store.secretGroups.update('p', 'prod', g.version, spec('prod', 50), { variables: { A: '1' }, files: {} });
        assert.equal(moved.spec.priority, 50);
        await assert.rejects(store.secretGroups.update('p', 'prod', g.version, spec('prod', 60), values), VersionConflictError);
        assert.deepEqual((await store.secretGroups.list('p')).map((x) => x.id), ['prod']);

        await store.projects.delete('q');
        assert.equal(await store.secretGroups.find('q', 'prod'), undefined, 'a project takes its groups with it');
        await store.secretGroups.delete('p', 'prod');
        await assert.rejects(store.secretGroups.delete('p', 'prod'), NotFoundError);
      } finally {
        await cleanup();
      }
    });

    it('keeps tags unique by id and name', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.tags.create('production', { name: 'production', color: '#f00' });
        await assert.rejects(store.tags.create('production', { name: 'production' }), ConflictError);
        await store.tags.create('staging', { name: 'staging' });
        await assert.rejects(store.tags.update('staging', { name: 'production' }), ConflictError);
        assert.equal((await store.tags.update('staging', { name: 'staging', description: 'pre' })).spec.description, 'pre');
        assert.deepEqual((await store.tags.list({ limit: 10 })).map((t) => t.id), ['production', 'staging']);
        await store.tags.delete('staging');
        await assert.rejects(store.tags.get('staging'), NotFoundError);
      } finally {
        await cleanup();
      }
    });
  });
}
