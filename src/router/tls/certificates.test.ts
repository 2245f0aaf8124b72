import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateSignature, ensureSelfSigned, loadCertificates, nameCovers, pickCertificate, userCertsDir } from './certificates.ts';

it('generates the self-signed certificate once per domain and keeps it across starts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-tls-'));
  try {
    const file = await ensureSelfSigned(dir, 'example.test');
    const first = fs.readFileSync(file, 'utf8');
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
    assert.equal(fs.readFileSync(await ensureSelfSigned(dir, 'example.test'), 'utf8'), first, 'kept');
    const set = loadCertificates(dir, file);
    assert.deepEqual(set.selfSigned.names, ['*.example.test', 'example.test']);
    assert.equal(pickCertificate(set, 'a.example.test'), set.selfSigned);
    assert.notEqual(fs.readFileSync(await ensureSelfSigned(dir, 'other.test'), 'utf8'), first, 'a new domain gets a new certificate');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('matches wildcard names for exactly one label', () => {
  assert.equal(nameCovers('*.a.test', 'x.a.test'), 'wildcard');
  assert.equal(nameCovers('*.a.test', 'y.x.a.test'), undefined);
  assert.equal(nameCovers('*.a.test', 'a.test'), undefined);
  assert.equal(nameCovers('a.test', 'a.test'), 'exact');
});

it('tells a change of the certificate files from their names, sizes and times, as loading them does', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-tls-'));
  try {
    const self = await ensureSelfSigned(dir, 'example.test');
    const before = certificateSignature(dir, self);
    assert.equal(before, loadCertificates(dir, self).signature);
    // A user certificate (a copy of the self-signed one) and a file that is not one: both count, as loadCertificates counts them.
    fs.mkdirSync(userCertsDir(dir), { recursive: true });
    fs.copyFileSync(self, path.join(userCertsDir(dir), 'a.pem'));
    fs.writeFileSync(path.join(userCertsDir(dir), 'b.pem'), 'not a certificate');
    const bad: string[] = [];
    const loaded = loadCertificates(dir, self, (file) => bad.push(path.basename(file)));
    assert.deepEqual(bad, ['b.pem']);
    assert.equal(loaded.user.length, 1);
    const after = certificateSignature(dir, self);
    assert.notEqual(after, before);
    assert.equal(after, loaded.signature);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
