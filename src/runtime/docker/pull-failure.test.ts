import { it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPullFailure, pullError, type PullFailureKind } from './pull-failure.ts';

// Messages as Podman 4 and Docker write them.
const cases: [string, string, PullFailureKind, boolean][] = [
  ['Podman: a plain-HTTP registry not marked insecure', 'initializing source docker://127.0.0.1:5000/x/c:v1: pinging container registry 127.0.0.1:5000: Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', 'insecure-registry', true],
  ['Podman: an unknown tag', 'initializing source docker://127.0.0.1:5000/x/c:nope: reading manifest nope in 127.0.0.1:5000/x/c: manifest unknown: manifest unknown', 'not-found', true],
  ['Podman: refused credentials', 'initializing source docker://127.0.0.1:5000/x/c:v1: reading manifest v1 in 127.0.0.1:5000/x/c: unauthorized: authentication required', 'unauthorized', true],
  ['Podman: a refused connection', 'initializing source docker://127.0.0.1:1/x/c:v1: pinging container registry 127.0.0.1:1: Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'unreachable', false],
  ['Podman: an unknown host', 'pinging container registry no-such-host.invalid: Get "https://no-such-host.invalid/v2/": dial tcp: lookup no-such-host.invalid on 10.0.0.53:53: no such host', 'unknown-host', true],
  ['Docker: unknown image or no access', "pull access denied for nosuch/image, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", 'unauthorized', true],
  ['Docker: an unknown tag', 'manifest for nginx:nope not found: manifest unknown: manifest unknown', 'not-found', true],
  ['Docker: an untrusted certificate', 'Get "https://reg.example:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority', 'untrusted-certificate', true],
  ['Docker: a TLS handshake timeout', 'Get "https://registry-1.docker.io/v2/": net/http: TLS handshake timeout', 'unreachable', false],
  ['Docker Hub: a rate limit', 'toomanyrequests: You have reached your pull rate limit.', 'unreachable', false],
  ['our check: plain HTTP answered on HTTPS', 'request to https://127.0.0.1:5000/v2/ failed: write EPROTO 40E8…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'insecure-registry', true],
  ['something unrecognised', 'the engine hiccuped', 'other', false],
];

for (const [name, text, kind, terminal] of cases) {
  it(`classifies ${name}`, () => {
    const got = classifyPullFailure(text, true);
    assert.equal(got.kind, kind);
    assert.equal(got.terminal, terminal);
  });
}

it('says when credentials are missing rather than refused', () => {
  assert.match(classifyPullFailure('unauthorized: authentication required', false).why, /requires credentials/);
  assert.match(classifyPullFailure('unauthorized: authentication required', true).why, /refused the credentials/);
});

it('keeps the engine\'s words, on one line, without the password', () => {
  const err = pullError('r/app:1', 'Get "https://u:s3cret@r/v2/":\n  unauthorized', { password: 's3cret' });
  assert.equal(err.terminal, true);
  assert.equal(err.message, 'could not pull image r/app:1: the registry refused the credentials: Get "https://u:***@r/v2/": unauthorized');
});
