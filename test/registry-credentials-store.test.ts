/** The registry credentials repository on SQLite and PostgreSQL: the password sealed at rest, read back only for a pull. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../src/errors/errors.ts';
import type { RegistryCredentialSpec } from '../src/domain/registry-credentials.ts';

const PASSWORD = 'registry-pw-very-secret';
const spec = (over: Partial<RegistryCredentialSpec> = {}): RegistryCredentialSpec => ({
  name: 'Private Registry',
  provider: 'custom',
  registryUrl: 'https://registry.example.com:5000/v2/',
  username: 'deployer',
  scope: { pull: true, push: false },
  restrictions: { restricted: false },
  ...over,
});

for (const dbId of SUPPORTED_DATABASES) {
  describe(`registry credentials on ${dbId}`, () => {
    it('seals the password at rest and gives it back only to a pull', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const created = await store.registryCredentials.create({ id: 'private-registry', spec: spec(), password: PASSWORD });
        assert.equal(created.hasPassword, true);
        await assert.rejects(store.registryCredentials.create({ id: 'private-registry', spec: spec(), password: 'x' }), ConflictError);
        const raw = await store.db.selectFrom('registry_credentials').selectAll().execute();
        assert.ok(!JSON.stringify(raw).includes(PASSWORD), 'not in plain text at rest');
        assert.ok(!JSON.stringify(await store.registryCredentials.get('private-registry')).includes(PASSWORD), 'not in a read');
        assert.ok(!JSON.stringify(await store.registryCredentials.list({ limit: 10 })).includes(PASSWORD), 'not in a list');
        assert.deepEqual(await store.registryCredentials.authFor('private-registry', 'any-project', 'registry.example.com:5000/team/app:1'), {
          username: 'deployer',
          password: PASSWORD,
          serveraddress: 'registry.example.com:5000',
        });
      } finally {
        await cleanup();
      }
    });

    it('keeps the password on an update without one, replaces it with one, and checks the version', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const c = await store.registryCredentials.create({ id: 'r', spec: spec(), password: PASSWORD });
        const u1 = await store.registryCredentials.update('r', c.version, spec({ username: 'other' }), undefined);
        assert.equal((await store.registryCredentials.authFor('r', 'p', 'x/y:1')).password, PASSWORD);
        assert.equal(u1.spec.username, 'other');
        await assert.rejects(store.registryCredentials.update('r', c.version, spec(), 'new'), VersionConflictError);
        await store.registryCredentials.update('r', u1.version, spec(), 'new-pw');
        assert.equal(await store.registryCredentials.password('r'), 'new-pw');
        await store.registryCredentials.delete('r');
        await assert.rejects(store.registryCredentials.get('r'), NotFoundError);
        await assert.rejects(store.registryCredentials.delete('r'), NotFoundError);
      } finally {
        await cleanup();
      }
    });

    it('refuses a pull for a project the credentials are restricted away from', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.registryCredentials.create({ id: 'r', spec: spec({ restrictions: { restricted: true, projects: ['a'] } }), password: PASSWORD });
        assert.equal((await store.registryCredentials.authFor('r', 'a', 'x/y:1')).username, 'deployer');
        await assert.rejects(store.registryCredentials.authFor('r', 'b', 'x/y:1'), (err: Error) => /restricted/.test(err.message) && !err.message.includes(PASSWORD));
        await assert.rejects(store.registryCredentials.authFor('nope', 'a', 'x/y:1'), NotFoundError);
      } finally {
        await cleanup();
      }
    });
  });
}
