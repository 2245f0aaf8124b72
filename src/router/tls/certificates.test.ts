import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSelfSigned, loadCertificates, nameCovers, pickCertificate } from './certificates.ts';

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
