import { it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveReleaseSpec, hashReleaseSpec, instanceId, instanceIdParts, resolveImageCommand, resolveProcesses, splitCommandLine } from './release.ts';
import type { ServiceSpec } from './service.ts';

const base: ServiceSpec = { name: 'web', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 2 }, runtimeEnvironment: { A: '1', B: '2' } };
const built = { web: 'node server.js', worker: 'node worker.js' };

it('hashes equal specs equally whatever the key order', () => {
  const a = deriveReleaseSpec(base, { buildId: 'b1', processes: built });
  const b = deriveReleaseSpec({ ...base, runtimeEnvironment: { B: '2', A: '1' } }, { buildId: 'b1', processes: built });
  assert.equal(hashReleaseSpec(a), hashReleaseSpec(b));
});

it('makes a new release hash when env, build or health checks change, not when the instance count does', () => {
  const h = (s: ServiceSpec, buildId = 'b1') => hashReleaseSpec(deriveReleaseSpec(s, { buildId, processes: built }));
  assert.notEqual(h(base), h({ ...base, runtimeEnvironment: { A: '1', B: '3' } }));
  assert.notEqual(h(base), h(base, 'b2'));
  assert.notEqual(h(base), h({ ...base, healthChecks: [{ protocol: 'TCP', type: 'readinessProbe', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }] }));
  assert.equal(h(base), h({ ...base, deployment: { instances: 7 }, description: 'other' }));
});

const overrides: { name: string; deployment: ServiceSpec['deployment']; web: string }[] = [
  { name: 'default keeps the Procfile web command', deployment: { instances: 1, buildpack: { configType: 'default' } }, web: 'node server.js' },
  { name: 'customProcess picks another process type', deployment: { instances: 1, buildpack: { configType: 'customProcess', customProcess: 'worker' } }, web: 'node worker.js' },
  { name: 'buildpack customCommand replaces the command', deployment: { instances: 1, buildpack: { configType: 'customCommand', customCommand: 'node other.js' } }, web: 'node other.js' },
  { name: 'customEntrypointCustomCommand joins both', deployment: { instances: 1, buildpack: { configType: 'customEntrypointCustomCommand', customEntrypoint: 'exec', customCommand: 'node a.js' } }, web: 'exec node a.js' },
  { name: 'docker customCommand replaces the command', deployment: { instances: 1, docker: { configType: 'customCommand', customCommand: 'node b.js' } }, web: 'node b.js' },
  { name: 'docker customEntrypoint prefixes the command', deployment: { instances: 1, docker: { configType: 'customEntrypoint', customEntrypoint: 'env FOO=1' } }, web: 'env FOO=1 node server.js' },
];
for (const c of overrides) {
  it(`runtime override: ${c.name}`, () => {
    assert.deepEqual(resolveProcesses({ ...base, deployment: c.deployment }, built).web, ['/bin/sh', '-c', c.web]);
  });
}

it('names instances deterministically from release, ordinal and spec hash', () => {
  const rel = { number: 3, specHash: 'abcdef0123456789' };
  assert.equal(instanceId('proj', 'web', rel, 'web', 1), 'proj--web--web-r3-1-abcdef');
  assert.equal(instanceId('proj', 'web', rel, 'web', 1), instanceId('proj', 'web', rel, 'web', 1));
});

const image = (docker?: NonNullable<ServiceSpec['deployment']>['docker']): ServiceSpec => ({ ...base, deployment: { instances: 2, external: { imagePath: 'registry.example/app:1' }, ...(docker ? { docker } : {}) } });

const imageOverrides: { name: string; docker: NonNullable<ServiceSpec['deployment']>['docker']; want: { entrypoint?: string[]; cmd?: string[] } }[] = [
  { name: 'default keeps the image entrypoint and command', docker: { configType: 'default', customEntrypoint: 'ignored', customCommand: 'ignored' }, want: {} },
  { name: 'customEntrypoint replaces only the entrypoint', docker: { configType: 'customEntrypoint', customEntrypoint: '/bin/sh -c' }, want: { entrypoint: ['/bin/sh', '-c'] } },
  { name: 'customCommand replaces only the command', docker: { configType: 'customCommand', customCommand: 'node server/index.js mode=test' }, want: { cmd: ['node', 'server/index.js', 'mode=test'] } },
  { name: 'customEntrypointCustomCommand replaces both', docker: { configType: 'customEntrypointCustomCommand', customEntrypoint: '/bin/sh -c', customCommand: "'echo $A; exec app'" }, want: { entrypoint: ['/bin/sh', '-c'], cmd: ['echo $A; exec app'] } },
];
for (const c of imageOverrides) {
  it(`image override: ${c.name}`, () => {
    assert.deepEqual(resolveImageCommand(image(c.docker)), c.want);
    const rel = deriveReleaseSpec(image(c.docker), {});
    assert.deepEqual(rel.processes.web, [], 'the web argv stays the image own: the runtime composes entrypoint and cmd');
    assert.deepEqual({ entrypoint: rel.entrypoint, cmd: rel.cmd }, { entrypoint: c.want.entrypoint, cmd: c.want.cmd });
  });
}

it('splits override strings into argv as a shell splits words, expanding nothing', () => {
  const cases: [string, string[]][] = [
    ['/bin/sh -c /start.sh', ['/bin/sh', '-c', '/start.sh']],
    ['  node   a.js  ', ['node', 'a.js']],
    [`sh -c 'echo "$A" && exit 0'`, ['sh', '-c', 'echo "$A" && exit 0']],
    [`echo "a \\"b\\" \\$HOME" c\\ d ''`, ['echo', 'a "b" $HOME', 'c d', '']],
    [`say 'unclosed quote`, ['say', 'unclosed quote']],
    ['', []],
  ];
  for (const [line, argv] of cases) assert.deepEqual(splitCommandLine(line), argv, line);
});

it('keeps the spec hash of releases without an image override (hashes pinned before overrides had fields)', () => {
  assert.equal(hashReleaseSpec(deriveReleaseSpec(image(), {})), '6c60e9e1be8a5401');
  assert.equal(hashReleaseSpec(deriveReleaseSpec(image({ configType: 'default' }), {})), '6c60e9e1be8a5401');
  assert.equal(hashReleaseSpec(deriveReleaseSpec({ ...base, deployment: { instances: 1, docker: { configType: 'customCommand', customCommand: 'node b.js' } } }, { buildId: 'b1', processes: built })), '6eda521ee1cb8448');
  assert.equal(hashReleaseSpec(deriveReleaseSpec(base, { buildId: 'b1', processes: built })), '9335a38b2f9b3088');
  assert.notEqual(hashReleaseSpec(deriveReleaseSpec(image({ configType: 'customCommand', customCommand: 'x' }), {})), '6c60e9e1be8a5401');
});

it('reads the release number and ordinal back from an instance id, and nothing from an id of another form', () => {
  const id = instanceId('proj', 'api-2', { number: 12, specHash: 'abcdef0123' }, 'worker', 3);
  assert.deepEqual(instanceIdParts(id), { release: 12, ordinal: 3 });
  assert.equal(instanceIdParts('proj--api--web'), undefined);
  assert.equal(instanceIdParts('addon-pg-0'), undefined);
});
