/**
 * Build artifacts as images without a Docker daemon (src/builds/oci-image.ts): the artifact pushed as a
 * layer on a base image to a real registry (Debian's docker-registry, with Basic and with token auth), then
 * pulled and run by a real engine (Podman) to see the files at /app.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { pushArtifactImage } from '../src/builds/oci-image.ts';
import { RegistryClient, RegistryError } from '../src/builds/registry-client.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/registry-images.ts';
import { startPodman, type PodmanService } from './support/podman.ts';

const users = { builder: 'pw-builder' };
const credentials = { username: 'builder', password: 'pw-builder' };

function artifact(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-oci-artifact-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'from the artifact\n');
  fs.mkdirSync(path.join(dir, 'lib/deep'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lib/deep/run.sh'), 'echo ran from $(pwd)\n', { mode: 0o755 });
  return dir;
}

async function runInPodman(docker: Docker, image: string, cmd: string): Promise<string> {
  await new Promise<void>((resolve, reject) =>
    docker.pull(image, { authconfig: { ...credentials, serveraddress: image.split('/')[0] } }, (err: Error | null, stream?: NodeJS.ReadableStream) => {
      if (err || !stream) return reject(err);
      docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve()));
    }),
  );
  const c = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', cmd], Tty: false });
  try {
    await c.start();
    await c.wait();
    const out = (await c.logs({ stdout: true, stderr: true })) as Buffer;
    // Multiplexed frames: 8-byte headers before each chunk.
    let text = '';
    for (let i = 0; i + 8 <= out.length; ) {
      const n = out.readUInt32BE(i + 4);
      text += out.subarray(i + 8, i + 8 + n).toString();
      i += 8 + n;
    }
    return text;
  } finally {
    await c.remove({ force: true });
  }
}

describe('artifact images pushed through the registry API', () => {
  let registry: TestRegistry;
  let podman: PodmanService;
  let base: string;
  before(async () => {
    registry = await startRegistry({ users });
    podman = await startPodman({ insecureRegistries: [registry.address] });
    base = await pushBusyboxImage(registry.address, 'base/busybox', '1', credentials);
  });
  after(async () => {
    await podman?.stop();
    await registry?.stop();
  });

  it('puts the artifact at /app on the base image, runnable by an engine that pulls it', async () => {
    const dir = artifact();
    try {
      const ref = await pushArtifactImage({ artifactDir: dir, baseImage: base, target: `${registry.address}/apps/web`, credentials });
      assert.match(ref, new RegExp(`^${registry.address}/apps/web@sha256:[a-f0-9]{64}$`));
      const out = await runInPodman(podman.docker, ref, 'cat hello.txt; sh lib/deep/run.sh');
      assert.equal(out, 'from the artifact\nran from /app\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is reproducible: the same artifact on the same base is the same image, and nothing is uploaded twice', async () => {
    const dir = artifact();
    try {
      const lines: string[] = [];
      const a = await pushArtifactImage({ artifactDir: dir, baseImage: base, target: `${registry.address}/apps/again`, credentials, log: (l) => lines.push(l) });
      const b = await pushArtifactImage({ artifactDir: dir, baseImage: base, target: `${registry.address}/apps/again`, credentials });
      assert.equal(a, b);
      // The base layer was linked from the base repository of the same registry, not copied.
      assert.ok(!lines.some((l) => l.startsWith('copying base layer')), lines.join('\n'));
      const client = new RegistryClient({ endpoint: registry.address, insecure: true, credentials });
      const manifest = JSON.parse((await client.manifest('apps/again', a.split('@')[1])).body.toString());
      const baseManifest = JSON.parse((await client.manifest('base/busybox', '1')).body.toString());
      assert.equal(manifest.layers.length, baseManifest.layers.length + 1);
      assert.equal(manifest.layers[0].digest, baseManifest.layers[0].digest);
      const config = JSON.parse((await client.blob('apps/again', manifest.config.digest)).toString());
      assert.equal(config.config.WorkingDir, '/app');
      assert.deepEqual(config.config.Env, ['PATH=/bin'], 'the base image environment is kept');
      assert.equal(config.rootfs.diff_ids.length, manifest.layers.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('copies the base layers from another registry (read anonymously) into the target', async () => {
    const other = await startRegistry();
    const dir = artifact();
    try {
      const otherBase = await pushBusyboxImage(other.address, 'library/busybox', 'stable');
      const lines: string[] = [];
      const ref = await pushArtifactImage({ artifactDir: dir, baseImage: otherBase, target: `${registry.address}/apps/copied`, credentials, log: (l) => lines.push(l) });
      assert.ok(lines.some((l) => l.startsWith('copying base layer')), lines.join('\n'));
      assert.equal(await runInPodman(podman.docker, ref, 'cat /app/hello.txt'), 'from the artifact\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await other.stop();
    }
  });

  it('fails with the registry named when the credentials are refused', async () => {
    const dir = artifact();
    try {
      await assert.rejects(
        pushArtifactImage({ artifactDir: dir, baseImage: base, target: `${registry.address}/apps/web`, credentials: { username: 'builder', password: 'wrong' } }),
        (err: Error) => err instanceof RegistryError && err.message.includes(registry.address) && !err.message.includes('wrong'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('speaks to a registry behind a token service (Bearer)', async () => {
    const tokenRegistry = await startRegistry({ users, auth: 'token' });
    const dir = artifact();
    try {
      const tokenBase = await pushBusyboxImage(tokenRegistry.address, 'base/busybox', '1', credentials);
      const ref = await pushArtifactImage({ artifactDir: dir, baseImage: tokenBase, target: `${tokenRegistry.address}/apps/web`, credentials });
      const client = new RegistryClient({ endpoint: tokenRegistry.address, insecure: true, credentials });
      const manifest = JSON.parse((await client.manifest('apps/web', ref.split('@')[1])).body.toString());
      assert.equal(manifest.layers.length, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await tokenRegistry.stop();
    }
  });
});
