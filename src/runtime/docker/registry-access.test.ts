import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenge } from './registry-access.ts';

it('reads a Bearer challenge as Docker Hub sends it', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
  });
});

it('reads a Basic challenge, unquoted values and escapes', () => {
  assert.deepEqual(parseChallenge('Basic realm="slipway \\"test\\""'), { scheme: 'basic', params: { realm: 'slipway "test"' } });
  assert.deepEqual(parseChallenge('Bearer realm=https://r/token, service=reg'), { scheme: 'bearer', params: { realm: 'https://r/token', service: 'reg' } });
});

it('has no challenge without a header', () => {
  assert.equal(parseChallenge(undefined), undefined);
  assert.equal(parseChallenge(''), undefined);
});
