/**
 * Base images for tests, pushed straight into a test registry through the Registry HTTP API (no engine, no
 * registry outside is reachable): the static busybox as /bin/sh with a symlink per applet, and /tmp.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { RegistryClient, sha256, type RegistryCredentials } from '../../src/builds/registry-client.ts';

const BUSYBOX = '/bin/busybox';

function busyboxInto(root: string): void {
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const applet of execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter(Boolean)) {
    if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', applet));
  }
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
}

/** Pushes a root filesystem directory as a one-layer image with the given config. */
async function pushRootfs(address: string, repository: string, tag: string, root: string, imageConfig: object, credentials?: RegistryCredentials): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of tar.c({ cwd: root, portable: true }, fs.readdirSync(root)) as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  const layerTar = Buffer.concat(chunks);
  const layer = zlib.gzipSync(layerTar, { level: 1 });
  const client = new RegistryClient({ endpoint: address, insecure: true, ...(credentials ? { credentials } : {}) });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: imageConfig,
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      history: [{ created_by: 'slipway test image' }],
    }),
  );
  const layerDigest = await client.pushBlob(repository, layer);
  const configDigest = await client.pushBlob(repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  await client.putManifest(repository, tag, 'application/vnd.oci.image.manifest.v1+json', manifest);
  return `${address}/${repository}:${tag}`;
}

/** Pushes `<address>/<repository>:<tag>`: the busybox root filesystem, PATH=/bin, `sh` as its command. */
export async function pushBusyboxImage(address: string, repository: string, tag: string, credentials?: RegistryCredentials): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-busybox-root-'));
  try {
    busyboxInto(root);
    return await pushRootfs(address, repository, tag, root, { Env: ['PATH=/bin'], Cmd: ['sh'] }, credentials);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Pushes a Node base image: this machine's Node at /usr/local/bin/node with the shared libraries `ldd` names
 * and the dynamic loader, plus busybox as /bin/sh (as test/support/podman.ts builds for the docker runtime).
 */
export async function pushNodeImage(address: string, repository: string, tag: string, credentials?: RegistryCredentials): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-node-root-'));
  try {
    const ldd = execFileSync('ldd', [process.execPath]).toString();
    for (const lib of [...ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1])) {
      fs.mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
      fs.copyFileSync(lib, path.join(root, lib));
      fs.chmodSync(path.join(root, lib), 0o755);
    }
    fs.mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
    fs.copyFileSync(process.execPath, path.join(root, 'usr/local/bin/node'));
    fs.chmodSync(path.join(root, 'usr/local/bin/node'), 0o755);
    busyboxInto(root);
    return await pushRootfs(address, repository, tag, root, { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['node'] }, credentials);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
