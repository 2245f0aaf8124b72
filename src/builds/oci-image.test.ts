import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { artifactLayer, isLoopbackRegistry, parseImageName } from './oci-image.ts';

describe('image names and artifact layers', () => {
  it('takes an image name apart as the registry API needs it', () => {
    assert.deepEqual(parseImageName('node:22-slim'), { endpoint: 'registry-1.docker.io', repository: 'library/node', reference: '22-slim' });
    assert.deepEqual(parseImageName('docker.io/team/app'), { endpoint: 'registry-1.docker.io', repository: 'team/app', reference: 'latest' });
    assert.deepEqual(parseImageName('127.0.0.1:5000/a/b@sha256:abc'), { endpoint: '127.0.0.1:5000', repository: 'a/b', reference: 'sha256:abc' });
    assert.deepEqual(parseImageName('ghcr.io/o/r:1'), { endpoint: 'ghcr.io', repository: 'o/r', reference: '1' });
  });

  it('speaks plain HTTP by default only to a registry on this machine', () => {
    assert.equal(isLoopbackRegistry('127.0.0.1:5000'), true);
    assert.equal(isLoopbackRegistry('localhost:5000'), true);
    assert.equal(isLoopbackRegistry('registry.example.com'), false);
  });

  it('makes the same layer of the same files, whatever their times, with every entry under app/', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-layer-'));
    try {
      fs.mkdirSync(path.join(dir, 'b/c'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'b/c/x.txt'), 'x');
      fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
      const first = await artifactLayer(dir);
      fs.utimesSync(path.join(dir, 'a.txt'), new Date(), new Date(Date.now() + 5000));
      assert.ok(first.equals(await artifactLayer(dir)));
      // ustar names at offset 0 of each 512-byte header: the first entries are the sorted paths under app/.
      const names: string[] = [];
      for (let off = 0; off + 512 <= first.length && first[off] !== 0; ) {
        const name = first.subarray(off, off + 100).toString().replace(/\0.*$/s, '');
        const size = parseInt(first.subarray(off + 124, off + 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
        names.push(name);
        off += 512 + Math.ceil(size / 512) * 512;
      }
      assert.deepEqual(names, ['app/a.txt', 'app/b/', 'app/b/c/', 'app/b/c/x.txt']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
