import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtImageProblem, builtImageTag } from './built-image.ts';

const cases: [name: string, imagePath: string, projectId: string, refused: boolean][] = [
  ['a registry image', 'registry.example:5000/team/app:1', 'shop', false],
  ['an image built for the same project', builtImageTag('shop', 'api', 'build-abc'), 'shop', false],
  ['an image built for another project', builtImageTag('other', 'api', 'build-abc'), 'shop', true],
  ['another project by a prefix of this one', 'localhost/slipway/sho/api:build-1', 'shop', true],
  ['upper-case spelling of another project', 'LOCALHOST/SLIPWAY/other/api:build-1', 'shop', true],
  ['another localhost image', 'localhost/tools/app:1', 'shop', false],
];

for (const [name, imagePath, projectId, refused] of cases) {
  test(`built image rule: ${name}`, () => {
    const p = builtImageProblem('deployment.external.imagePath', imagePath, projectId);
    assert.equal(p !== undefined, refused);
    if (p) assert.equal(p.field, 'deployment.external.imagePath');
  });
}
