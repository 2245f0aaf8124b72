/**
 * Bad input on the /v1 face: one case per constraint family of seed 000 at least, each a 400 whose error
 * names the field and the rule, and the stored service unchanged afterwards. Malformed JSON, a wrong
 * content type and a huge body are 4xx, never 5xx.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startTestPlatform, type RunningPlatform } from './support/platform.ts';

const SVC = '/v1/projects/bad-input/services/deployment/target';

const cases: { name: string; body: unknown; field: string; rule?: RegExp }[] = [
  { name: 'pattern (description)', body: { description: 'no <angle> brackets' }, field: 'description', rule: /pattern/ },
  { name: 'maxLength (description)', body: { description: 'a'.repeat(201) }, field: 'description', rule: /maxLength/ },
  { name: 'minLength (tags)', body: { tags: ['ab'] }, field: 'tags.0', rule: /minLength/ },
  { name: 'minimum (gracePeriodSeconds)', body: { deployment: { instances: 1, gracePeriodSeconds: 5 } }, field: 'deployment.gracePeriodSeconds', rule: /minimum/ },
  { name: 'maximum (healthCheck timeoutSeconds)', body: { healthChecks: [{ protocol: 'TCP', type: 'readinessProbe', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 61, failureThreshold: 3 }] }, field: 'healthChecks.0.timeoutSeconds', rule: /maximum/ },
  { name: 'enum (port protocol)', body: { ports: [{ name: 'p01', internalPort: 8080, protocol: 'SCTP' }] }, field: 'ports.0.protocol', rule: /enum/ },
  { name: 'required (port internalPort)', body: { ports: [{ name: 'p01', protocol: 'HTTP' }] }, field: 'ports.0.internalPort', rule: /required/ },
  { name: 'type (instances)', body: { deployment: { instances: 'two' } }, field: 'deployment.instances', rule: /type/ },
  { name: 'oneOf (internal and external together)', body: { deployment: { instances: 1, internal: { id: 'abc' }, external: { imagePath: 'nginx:latest' } } }, field: 'deployment' },
  { name: 'unknown field at the top', body: { bogus: 1 }, field: 'bogus', rule: /additionalProperties/ },
  { name: 'unknown nested field', body: { ports: [{ name: 'p01', internalPort: 8080, protocol: 'HTTP', colour: 'red' }] }, field: 'ports.0.colour', rule: /additionalProperties/ },
  { name: 'port name pattern', body: { ports: [{ name: '1bad', internalPort: 8080, protocol: 'HTTP' }] }, field: 'ports.0.name', rule: /pattern/ },
  { name: 'internalPort maximum', body: { ports: [{ name: 'p01', internalPort: 70000, protocol: 'HTTP' }] }, field: 'ports.0.internalPort', rule: /maximum/ },
  { name: 'HTTP health check without a path', body: { ports: [{ name: 'p01', internalPort: 8080, protocol: 'HTTP' }], healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }] }, field: 'healthChecks.0.path', rule: /required/ },
  { name: 'unknown plan', body: { billing: { deploymentPlan: 'no-such-plan' } }, field: 'billing.deploymentPlan', rule: /exists/ },
  { name: 'buildpack customCommand missing', body: { deployment: { instances: 1, buildpack: { configType: 'customCommand' } } }, field: 'deployment.buildpack.customCommand', rule: /required/ },
];

describe('bad input on /v1', () => {
  let p: RunningPlatform;
  let before_: any;

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'bad-input' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/bad-input/services/deployment', { name: 'target', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 0 } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    before_ = (await api(p, 'GET', '/v1/projects/bad-input/services/target')).body.data;
  });
  after(async () => {
    await p?.stop();
  });

  for (const c of cases) {
    it(`refuses ${c.name} with a 400 naming ${c.field}`, async () => {
      const res = await api(p, 'PATCH', SVC, c.body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.status, 400);
      const details = res.body.error.details as Record<string, string[]>;
      assert.ok(details && details[c.field], `details name ${c.field}: ${JSON.stringify(res.body.error)}`);
      if (c.rule) assert.match(details[c.field].join(' '), c.rule);
      const now = (await api(p, 'GET', '/v1/projects/bad-input/services/target')).body.data;
      assert.deepEqual(now, before_, 'stored service unchanged');
    });
  }

  it('answers malformed JSON with 400', async () => {
    const res = await api(p, 'PATCH', SVC, undefined, { raw: '{"description": ' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.status, 400);
  });

  it('answers a wrong content type with 415', async () => {
    const res = await api(p, 'PATCH', SVC, undefined, { raw: 'description=x', contentType: 'text/plain' });
    assert.equal(res.status, 415);
  });

  it('answers a huge body with 413', async () => {
    const res = await api(p, 'PATCH', SVC, undefined, { raw: JSON.stringify({ description: 'x'.repeat(3 * 1024 * 1024) }) });
    assert.equal(res.status, 413);
  });

  it('answers an unknown project with 404 in the Northflank shape', async () => {
    const res = await api(p, 'GET', '/v1/projects/nope/services');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.status, 404);
  });

  it('answers native routes with RFC 9457 problem details', async () => {
    const res = await api(p, 'POST', '/tokens', { name: 'x', role: 'wizard' });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(res.body.status, 400);
    assert.ok(res.body.errors.some((e: { field: string }) => e.field === 'role'));
  });

  it('refuses a UDP port and a Dockerfile build plainly (4xx naming the field)', async () => {
    const udp = await api(p, 'PATCH', SVC, { ports: [{ name: 'u01', internalPort: 5353, protocol: 'UDP' }] });
    assert.equal(udp.status, 422);
    assert.ok(udp.body.error.details['ports.0.protocol']);
    const docker = await api(p, 'POST', '/v1/projects/bad-input/services/build', { name: 'dockerbuild', vcsData: { projectUrl: 'file:///tmp', projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { dockerfile: { buildEngine: 'kaniko', dockerFilePath: '/Dockerfile', dockerWorkDir: '/' } } });
    assert.equal(docker.status, 422, JSON.stringify(docker.body));
    assert.ok(docker.body.error.details['buildSettings.dockerfile']);
  });

  it('never answers 5xx to a barrage of odd bodies', async () => {
    const odd: unknown[] = [null, [], 'str', 42, { deployment: null }, { ports: {} }, { runtimeEnvironment: { A: { nested: 1 } } }, { runtimeFiles: { 'relative/path': { data: 'eA==' } } }, { constructor: { prototype: { polluted: true } } }];
    for (const body of odd) {
      const res = await api(p, 'PATCH', SVC, undefined, { raw: JSON.stringify(body) });
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    const proto = await api(p, 'PATCH', SVC, undefined, { raw: '{"__proto__": {"polluted": true}}' });
    assert.ok(proto.status >= 400 && proto.status < 500);
    assert.equal(({} as any).polluted, undefined);
  });
});
