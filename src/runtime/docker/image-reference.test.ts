import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isLocalOnly, parseImageReference } from './image-reference.ts';

const cases: [string, string, { registry: string; endpoint: string; repository: string; reference: string }][] = [
  ['a Docker Hub official image', 'nginx', { registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/nginx', reference: 'latest' }],
  ['a Docker Hub image with a tag', 'nginx:1.27', { registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/nginx', reference: '1.27' }],
  ['a Docker Hub user image', 'bitnami/redis:7', { registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'bitnami/redis', reference: '7' }],
  ['Docker Hub named explicitly', 'docker.io/library/busybox', { registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/busybox', reference: 'latest' }],
  ['Docker Hub by its index name', 'index.docker.io/busybox:1', { registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/busybox', reference: '1' }],
  ['a registry with a port and a tag', '127.0.0.1:5000/team/app:v2', { registry: '127.0.0.1:5000', endpoint: '127.0.0.1:5000', repository: 'team/app', reference: 'v2' }],
  ['a registry with a port, no tag', '127.0.0.1:5000/app', { registry: '127.0.0.1:5000', endpoint: '127.0.0.1:5000', repository: 'app', reference: 'latest' }],
  ['a digest', `ghcr.io/o/r@sha256:${'a'.repeat(64)}`, { registry: 'ghcr.io', endpoint: 'ghcr.io', repository: 'o/r', reference: `sha256:${'a'.repeat(64)}` }],
  ['a tag and a digest: the digest wins', `ghcr.io/o/r:1@sha256:${'b'.repeat(64)}`, { registry: 'ghcr.io', endpoint: 'ghcr.io', repository: 'o/r', reference: `sha256:${'b'.repeat(64)}` }],
  ['a local image', 'localhost/slipway/p/s:b1', { registry: 'localhost', endpoint: 'localhost', repository: 'slipway/p/s', reference: 'b1' }],
];

for (const [name, image, want] of cases) {
  it(`parses ${name}`, () => assert.deepEqual(parseImageReference(image), want));
}

it('takes only `localhost/…` for an image no registry serves', () => {
  assert.equal(isLocalOnly(parseImageReference('localhost/slipway-conformance:test')), true);
  assert.equal(isLocalOnly(parseImageReference('localhost:5000/app:1')), false);
  assert.equal(isLocalOnly(parseImageReference('nginx')), false);
});
