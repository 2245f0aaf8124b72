import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../src/errors/errors.ts';
import { hashReleaseSpec, type ReleaseSpec } from '../src/domain/release.ts';

const spec = (instances: number) => ({
  name: 'web',
  billing: { deploymentPlan: 'nf-compute-20' },
  deployment: { instances },
  runtimeEnvironment: { SECRET_TOKEN: 'hunter2-very-secret' },
  buildArguments: { NPM_TOKEN: 'build-arg-secret-2' },
  ports: [{ name: 'p01', internalPort: 8080, protocol: 'HTTP' as const, public: true, security: { credentials: [{ username: 'admin', password: 'pw-secret-1', type: 'basic-auth' }] } }],
});

for (const dbId of SUPPORTED_DATABASES) {
  describe(`store on ${dbId}`, () => {
    it('creates, reads, lists and deletes projects, refusing a duplicate id', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.projects.create({ id: 'alpha', name: 'Alpha', spec: {} });
        await store.projects.create({ id: 'beta', name: 'Beta', description: 'b', spec: { color: '#fff' } });
        await assert.rejects(store.projects.create({ id: 'alpha', name: 'alpha', spec: {} }), ConflictError);
        assert.equal((await store.projects.get('beta')).description, 'b');
        assert.deepEqual((await store.projects.list({ limit: 10 })).map((p) => p.id), ['alpha', 'beta']);
        assert.deepEqual((await store.projects.list({ limit: 10, after: 'alpha' })).map((p) => p.id), ['beta']);
        await store.projects.delete('alpha');
        await assert.rejects(store.projects.get('alpha'), NotFoundError);
      } finally {
        await cleanup();
      }
    });

    it('never lets two writers silently overwrite a service (version check)', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        const created = await store.services.create({ projectId: 'p', id: 'web', kind: 'deployment', spec: spec(1) });
        const a = await store.services.update('p', 'web', created.version, spec(2));
        assert.equal(a.version, created.version + 1);
        await assert.rejects(store.services.update('p', 'web', created.version, spec(3)), VersionConflictError);
        assert.equal((await store.services.get('p', 'web')).spec.deployment?.instances, 2);
        await assert.rejects(store.services.create({ projectId: 'p', id: 'web', kind: 'deployment', spec: spec(1) }), ConflictError);
      } finally {
        await cleanup();
      }
    });

    it('seals runtime environment, build arguments and port credentials at rest and returns them whole', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        await store.services.create({ projectId: 'p', id: 'web', kind: 'deployment', spec: spec(1) });
        const raw = await store.db.selectFrom('services').selectAll().executeTakeFirstOrThrow();
        assert.ok(!JSON.stringify(raw).includes('hunter2-very-secret'));
        assert.ok(!JSON.stringify(raw).includes('pw-secret-1'));
        assert.ok(!JSON.stringify(raw).includes('build-arg-secret-2'));
        const back = await store.services.get('p', 'web');
        assert.equal(back.spec.runtimeEnvironment?.SECRET_TOKEN, 'hunter2-very-secret');
        assert.equal(back.spec.buildArguments?.NPM_TOKEN, 'build-arg-secret-2');
        assert.deepEqual(back.spec.ports?.[0].security, spec(1).ports[0].security);
      } finally {
        await cleanup();
      }
    });

    it('numbers releases per service without gaps, even when appended concurrently', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const rs: ReleaseSpec = { processes: { web: ['/bin/sh', '-c', 'node s.js'] }, env: { A: 'secret-a' }, files: {}, ports: [], healthChecks: [], gracePeriodSeconds: 30, plan: 'nf-compute-20' };
        const made = await Promise.all(
          Array.from({ length: 5 }, (_, i) => store.releases.append('p/web', { ...rs, env: { A: String(i) } }, hashReleaseSpec(rs), { prefix: 'p-web-r' })),
        );
        assert.deepEqual(made.map((r) => r.number).sort(), [1, 2, 3, 4, 5]);
        // The id is made from the number in the same statement: each writer's id names the number it got.
        assert.deepEqual(made.map((r) => r.id), made.map((r) => `p-web-r${r.number}`));
        assert.deepEqual(made.map((r) => r.spec.env.A), ['0', '1', '2', '3', '4']);
        const listed = await store.releases.list('p/web');
        assert.deepEqual(listed.map((r) => r.number), [5, 4, 3, 2, 1]);
        const raw = await store.db.selectFrom('releases').select('secrets').execute();
        assert.ok(raw.every((r) => !r.secrets.includes('secret-a')));
      } finally {
        await cleanup();
      }
    });

    it('numbers rollouts per service without gaps, even when begun concurrently, each id naming its number', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const begun = await Promise.all(
          Array.from({ length: 5 }, (_, i) => store.rollouts.begin({ serviceKey: 'p/web', fromReleaseId: null, toReleaseId: `p--web--r${i + 1}`, kind: 'deploy', strategy: 'rolling', deadlineAt: new Date(Date.now() + 60_000).toISOString() })),
        );
        assert.deepEqual(begun.map((r) => r.number).sort(), [1, 2, 3, 4, 5]);
        assert.deepEqual(begun.map((r) => r.id), begun.map((r) => `p--web--rollout-${r.number}`));
        const listed = await store.rollouts.list('p/web');
        assert.deepEqual(listed.map((r) => [r.number, r.toReleaseId]), begun.map((r) => [r.number, r.toReleaseId]).sort((a, b) => Number(b[0]) - Number(a[0])));
        const other = await store.rollouts.begin({ serviceKey: 'p/api', fromReleaseId: null, toReleaseId: 'p--api--r1', kind: 'deploy', strategy: 'rolling', deadlineAt: new Date().toISOString() });
        assert.equal(other.number, 1, 'numbers are per service');
      } finally {
        await cleanup();
      }
    });

    it('reads a service for a controller pass with whether a rollout is in progress and a volume attached, and lists open specs without secrets', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        await store.services.create({ projectId: 'p', id: 'web', kind: 'deployment', spec: spec(1) });
        await store.services.create({ projectId: 'p', id: 'api', kind: 'deployment', spec: { ...spec(2), name: 'api' } });
        assert.equal(await store.services.findForPass('p', 'nope'), undefined);
        let web = await store.services.findForPass('p', 'web');
        assert.deepEqual([web?.service.id, web?.rolling, web?.volumeAttached], ['web', false, false]);
        assert.equal(web?.service.spec.runtimeEnvironment?.SECRET_TOKEN, 'hunter2-very-secret', 'the record is whole');
        const ro = await store.rollouts.begin({ serviceKey: 'p/web', fromReleaseId: null, toReleaseId: 'p--web--r1', kind: 'deploy', strategy: 'rolling', deadlineAt: new Date(Date.now() + 60_000).toISOString() });
        await store.volumes.create({ projectId: 'p', id: 'data', uid: 'u1', spec: { name: 'data', tags: [], mounts: [{ containerMountPath: '/data' }], accessMode: 'ReadWriteOnce', storageClassName: 'ssd', storageSizeMb: 64 }, attachedServiceId: 'web', status: 'BOUND', operation: null });
        web = await store.services.findForPass('p', 'web');
        assert.deepEqual([web?.rolling, web?.volumeAttached], [true, true]);
        const api = await store.services.findForPass('p', 'api');
        assert.deepEqual([api?.service.id, api?.rolling, api?.volumeAttached], ['api', false, false], "another service's rollout and volume are not its own");
        await store.rollouts.finish(ro.id, 'COMPLETED', 'done');
        assert.equal((await store.services.findForPass('p', 'web'))?.rolling, false, 'a finished rollout is not in progress');

        const open = (await store.services.listOpen()).sort((a, b) => a.id.localeCompare(b.id));
        assert.deepEqual(open.map((s) => [s.projectId, s.id, s.kind, s.spec.deployment?.instances]), [['p', 'api', 'deployment', 2], ['p', 'web', 'deployment', 1]]);
        assert.ok(!JSON.stringify(open).includes('hunter2') && !JSON.stringify(open).includes('pw-secret-1'), 'open specs carry no secret');
      } finally {
        await cleanup();
      }
    });

    it('keeps the service spec each release was made from, its secrets sealed', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const rs: ReleaseSpec = { processes: { web: [] }, env: { TOKEN: 'snapshot-secret' }, files: {}, ports: [], healthChecks: [], gracePeriodSeconds: 30, plan: 'nf-compute-20' };
        const made = { name: 'web', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 1, internal: { id: 'web', buildId: 'b1' } }, runtimeEnvironment: { TOKEN: 'snapshot-secret' }, buildArguments: { NPM_TOKEN: 'snapshot-build-secret' } };
        const rel = await store.releases.append('p/web', rs, hashReleaseSpec(rs), { prefix: 'p-web-r' }, made);
        const legacy = await store.releases.append('p/web', rs, hashReleaseSpec(rs), { prefix: 'p-web-r' });
        assert.deepEqual((await store.releases.get(rel.id)).serviceSpec, made);
        assert.equal((await store.releases.get(legacy.id)).serviceSpec, undefined, 'a release made without one has none');
        const raw = await store.db.selectFrom('releases').select(['service_spec', 'service_secrets']).execute();
        assert.ok(raw.every((r) => !`${r.service_spec}${r.service_secrets}`.includes('snapshot-')));
      } finally {
        await cleanup();
      }
    });

    it('moves a build between states only from the state the caller saw', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.builds.create({ id: 'b1', projectId: 'p', serviceId: 's', sha: 'a'.repeat(40), branch: 'main', source: 'git:/x', logPath: '/tmp/x.log' });
        assert.equal(await store.builds.transition('b1', 'QUEUED', 'BUILDING'), true);
        assert.equal(await store.builds.transition('b1', 'QUEUED', 'BUILDING'), false);
        assert.equal(await store.builds.transition('b1', 'BUILDING', 'SUCCESS', { artifactDir: '/a', processes: { web: 'node s.js' } }), true);
        const hit = await store.builds.findSuccessful('p', 's', 'a'.repeat(40));
        assert.equal(hit?.artifactDir, '/a');
        assert.deepEqual(hit?.processes, { web: 'node s.js' });
      } finally {
        await cleanup();
      }
    });

    it('stores tokens by hash and revokes them', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        await store.tokens.create({ id: 't1', name: 'ci', hash: 'h1', role: 'developer', projectId: 'p' });
        assert.equal((await store.tokens.findActiveByHash('h1'))?.role, 'developer');
        await store.tokens.revoke('t1');
        assert.equal(await store.tokens.findActiveByHash('h1'), undefined);
        await assert.rejects(store.tokens.revoke('t1'), NotFoundError);
      } finally {
        await cleanup();
      }
    });
  });
}
