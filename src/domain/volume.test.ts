import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mountProblems, mountSubPath, volumeInstancesProblem, volumeStep } from './volume.ts';

describe('volume mounts', () => {
  const cases: { name: string; mounts: { containerMountPath: string; volumeMountPath?: string }[]; want: string[] }[] = [
    { name: 'one absolute path is fine', mounts: [{ containerMountPath: '/data' }], want: [] },
    { name: 'a path under /tmp is fine', mounts: [{ containerMountPath: '/tmp/cache' }], want: [] },
    { name: 'no mount at all', mounts: [], want: ['mounts:minItems'] },
    { name: 'a relative path', mounts: [{ containerMountPath: 'data' }], want: ['mounts.0.containerMountPath:absolutePath'] },
    { name: 'a path with ..', mounts: [{ containerMountPath: '/data/../etc' }], want: ['mounts.0.containerMountPath:absolutePath'] },
    { name: 'the root', mounts: [{ containerMountPath: '/' }], want: ['mounts.0.containerMountPath:notRoot'] },
    { name: 'under the read-only artifact', mounts: [{ containerMountPath: '/app/data' }], want: ['mounts.0.containerMountPath:reservedPath'] },
    { name: 'over the host /usr', mounts: [{ containerMountPath: '/usr' }], want: ['mounts.0.containerMountPath:reservedPath'] },
    { name: 'the same path twice, spelled apart', mounts: [{ containerMountPath: '/data' }, { containerMountPath: '/data/' }], want: ['mounts.1.containerMountPath:unique'] },
    { name: 'a subpath leaving the volume', mounts: [{ containerMountPath: '/data', volumeMountPath: '../x' }], want: ['mounts.0.volumeMountPath:relativePath'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(mountProblems(c.mounts).map((p) => `${p.field}:${p.rule}`), c.want);
    });
  }
  it('normalises the subpath a mount shows', () => {
    assert.equal(mountSubPath({ containerMountPath: '/d', volumeMountPath: './a//b/' }), 'a/b');
    assert.equal(mountSubPath({ containerMountPath: '/d' }), '');
  });
});

describe('the instance limit of a service with a volume', () => {
  it('allows one instance and refuses more, naming the field', () => {
    assert.equal(volumeInstancesProblem(1, 'instances', 'v'), undefined);
    assert.equal(volumeInstancesProblem(0, 'instances', 'v'), undefined);
    assert.equal(volumeInstancesProblem(2, 'deployment.instances', 'v')?.field, 'deployment.instances');
  });
});

describe('the rolling step of a service with a volume', () => {
  const vol = { volumeId: 'data' };
  it('says it stops the old instance first', () => {
    const s = volumeStep({ start: [], stop: ['old'], reason: 'stopping old instances first (recreate)' }, vol, false);
    assert.deepEqual(s.stop, ['old']);
    assert.match(s.reason, /stopping the old instance first: the service has volume data/);
  });
  it('starts nothing while the old instance is still stopping', () => {
    const s = volumeStep({ start: [0], stop: [], reason: 'starting 1, stopping 0' }, vol, true);
    assert.deepEqual(s.start, []);
    assert.match(s.reason, /waiting for the old instance to terminate/);
  });
  it('starts the new instance once the old one is gone', () => {
    const s = volumeStep({ start: [0], stop: [], reason: 'starting 1, stopping 0' }, vol, false);
    assert.deepEqual(s.start, [0]);
  });
  it('names the operation that holds the instance stopped', () => {
    const s = volumeStep({ start: [], stop: ['cur'], reason: 'scaling down to 0' }, { volumeId: 'data', heldFor: 'a backup of volume data' }, false);
    assert.match(s.reason, /stopping the instance for a backup of volume data/);
  });
});
