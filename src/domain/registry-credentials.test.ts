import { it } from 'node:test';
import assert from 'node:assert/strict';
import { hostOfRegistryUrl, isUsableBy, registryHostOf, serverAddressFor, type RegistryCredentialSpec } from './registry-credentials.ts';

it('finds the registry host of an image reference as the engine does', () => {
  const cases: [string, string][] = [
    ['nginx:1', 'docker.io'],
    ['library/nginx:1', 'docker.io'],
    ['team/app:2', 'docker.io'],
    ['ghcr.io/team/app:2', 'ghcr.io'],
    ['127.0.0.1:5000/team/app:v1', '127.0.0.1:5000'],
    ['localhost/app:test', 'localhost'],
    ['registry.example.com:5000/a/b/c@sha256:abc', 'registry.example.com:5000'],
  ];
  for (const [image, host] of cases) assert.equal(registryHostOf(image), host, image);
});

it('takes the host of a registry URL, with or without scheme and path', () => {
  const cases: [string, string][] = [
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
  ];
  for (const [url, host] of cases) assert.equal(hostOfRegistryUrl(url), host, url);
});

it('authenticates against the registry URL when saved, else the image registry, and honours restrictions', () => {
  const base: RegistryCredentialSpec = { name: 'r', provider: 'custom', username: 'u', scope: { pull: true }, restrictions: { restricted: false } };
  assert.equal(serverAddressFor({ ...base, registryUrl: 'https://r.example.com/v2/' }, 'other.example.com/x:1'), 'r.example.com');
  assert.equal(serverAddressFor(base, 'other.example.com/x:1'), 'other.example.com');
  assert.equal(isUsableBy(base, 'any'), true);
  assert.equal(isUsableBy({ ...base, restrictions: { restricted: true, projects: ['a'] } }, 'a'), true);
  assert.equal(isUsableBy({ ...base, restrictions: { restricted: true, projects: ['a'] } }, 'b'), false);
  assert.equal(isUsableBy({ ...base, restrictions: { restricted: true } }, 'a'), false);
});
