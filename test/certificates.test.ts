/**
 * User TLS certificates through the API: an admin uploads a certificate and key for a name, the router
 * serves it by SNI on its HTTPS port without a restart, the listing never shows the key, a mismatched key
 * or a certificate for another name is refused, and only admins may touch certificates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { api, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

async function certFor(name: string) {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] }],
  });
  return { certificate: pems.cert, privateKey: pems.private };
}

/** The subject CN the router's HTTPS port presents for a server name. */
function servedCn(port: number, servername: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.end();
      resolve(Array.isArray(cn) ? cn[0] : cn);
    });
    s.on('error', () => resolve(undefined));
  });
}

describe('TLS certificates API', () => {
  let p: RunningPlatform;
  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  it('serves an uploaded certificate by SNI without a restart, and lists it without its key', async () => {
    assert.notEqual(await servedCn(p.tlsPort, 'shop.example.org'), 'shop.example.org');
    const cert = await certFor('shop.example.org');
    const put = await api(p, 'PUT', '/certificates/shop.example.org', cert);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.names, ['shop.example.org']);
    await waitFor(async () => (await servedCn(p.tlsPort, 'shop.example.org')) === 'shop.example.org', 30_000, 'the router serves the uploaded certificate');
    const list = await api(p, 'GET', '/certificates');
    assert.equal(list.status, 200);
    assert.equal(list.body.certificates.length, 1);
    assert.ok(!JSON.stringify(list.body).includes('PRIVATE KEY'), 'keys are never returned');
    assert.equal((await api(p, 'DELETE', '/certificates/shop.example.org')).status, 200);
    await waitFor(async () => (await servedCn(p.tlsPort, 'shop.example.org')) !== 'shop.example.org', 30_000, 'removed');
  });

  it('refuses a key that does not match, a certificate for another name, and non-admins', async () => {
    const a = await certFor('a.example.org');
    const b = await certFor('b.example.org');
    const mismatch = await api(p, 'PUT', '/certificates/a.example.org', { certificate: a.certificate, privateKey: b.privateKey });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.errors[0].field, 'certificate');
    const other = await api(p, 'PUT', '/certificates/c.example.org', a);
    assert.equal(other.status, 400);
    assert.match(other.body.errors[0].message, /a\.example\.org/);
    const garbage = await api(p, 'PUT', '/certificates/a.example.org', { certificate: 'nope', privateKey: 'nope' });
    assert.equal(garbage.status, 400);
    await api(p, 'POST', '/v1/projects', { name: 'certs' });
    const owner = (await api(p, 'POST', '/tokens', { name: 'owner', role: 'owner', projectId: 'certs' })).body.token as string;
    assert.equal((await api(p, 'PUT', '/certificates/a.example.org', a, { token: owner })).status, 403);
    assert.equal((await api(p, 'GET', '/certificates', undefined, { token: owner })).status, 403);
  });
});
