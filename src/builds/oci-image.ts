/**
 * A build artifact as an image, without a Docker daemon: the artifact directory becomes one layer (its files
 * under `/app`) on top of a base image, and the image is pushed to a registry through the Registry HTTP API
 * v2 (registry-client.ts). This is how the kubernetes runtime runs releases built from source: a cluster
 * pulls images, it cannot mount a directory of the control plane.
 *
 * The layer is reproducible (entries sorted, owners and times zeroed, gzip without a timestamp), so pushing
 * the same artifact onto the same base twice yields the same manifest digest and uploads nothing new.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { parseImageReference } from '../runtime/docker/image-reference.ts';
import { MANIFEST_TYPES, RegistryClient, RegistryError, sha256, type RegistryCredentials } from './registry-client.ts';

export interface ImageName {
  /** registry host (and port) */
  endpoint: string;
  repository: string;
  /** tag or digest */
  reference: string;
}

/** `[host[:port]/]path[:tag][@digest]`, Docker Hub names expanded (`node:22` is `registry-1.docker.io/library/node:22`). */
export function parseImageName(image: string): ImageName {
  const { endpoint, repository, reference } = parseImageReference(image);
  return { endpoint, repository, reference };
}

/** Registries reached over plain HTTP unless told otherwise: this machine's. */
export function isLoopbackRegistry(endpoint: string): boolean {
  const host = endpoint.replace(/:\d+$/, '');
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

/** Every path under `dir`, parents before children, sorted: the order of the layer's entries. */
function entriesOf(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    const st = fs.lstatSync(path.join(dir, p));
    if (st.isDirectory()) out.push(...entriesOf(dir, p));
  }
  return out;
}

/** The artifact as an uncompressed layer tar whose entries are under `app/`. */
export async function artifactLayer(artifactDir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = tar.c({ cwd: artifactDir, prefix: 'app', portable: true, mtime: new Date(0), noDirRecurse: true, follow: false }, entriesOf(artifactDir));
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string };
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export interface ArtifactImageOptions {
  artifactDir: string;
  /** the image the layer goes on: its OS, runtimes (Node) and environment */
  baseImage: string;
  /** where the image goes: `host[:port]/repository` (a tag is chosen from the content) */
  target: string;
  /** credentials for the target registry; the base image's registry is read anonymously unless it is the same */
  credentials?: RegistryCredentials;
  baseCredentials?: RegistryCredentials;
  /** registries spoken to over plain HTTP (default: those on this machine) */
  insecure?: (endpoint: string) => boolean;
  log?: (line: string) => void;
}

/**
 * Pushes the artifact as a layer on the base image; resolves with the pushed image pinned by digest
 * (`host/repository@sha256:…`). Throws a RegistryError naming the registry and step that failed.
 */
export async function pushArtifactImage(o: ArtifactImageOptions): Promise<string> {
  const insecure = o.insecure ?? isLoopbackRegistry;
  const base = parseImageName(o.baseImage);
  const target = parseImageName(o.target);
  const same = base.endpoint === target.endpoint;
  const from = new RegistryClient({ endpoint: base.endpoint, insecure: insecure(base.endpoint), credentials: same ? o.credentials : o.baseCredentials });
  const to = same ? from : new RegistryClient({ endpoint: target.endpoint, insecure: insecure(target.endpoint), credentials: o.credentials });

  // The base: an index names one manifest per platform; take this machine's Linux one.
  let manifest = await from.manifest(base.repository, base.reference);
  if (manifest.mediaType === MANIFEST_TYPES.ociIndex || manifest.mediaType === MANIFEST_TYPES.dockerList) {
    const index = JSON.parse(manifest.body.toString()) as { manifests: Descriptor[] };
    const arch = GOARCH[process.arch] ?? process.arch;
    const pick = index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch);
    if (!pick) throw new RegistryError(`base image ${o.baseImage} has no linux/${arch} image`);
    manifest = await from.manifest(base.repository, pick.digest);
  }
  const baseManifest = JSON.parse(manifest.body.toString()) as { config: Descriptor; layers: Descriptor[] };
  const isOci = manifest.mediaType === MANIFEST_TYPES.ociManifest;
  const config = JSON.parse((await from.blob(base.repository, baseManifest.config.digest)).toString()) as {
    config?: { WorkingDir?: string; [k: string]: unknown };
    rootfs: { type: string; diff_ids: string[] };
    history?: { created_by?: string; empty_layer?: boolean }[];
    [k: string]: unknown;
  };

  const layerTar = await artifactLayer(o.artifactDir);
  const layer = zlib.gzipSync(layerTar);
  const layerDigest = sha256(layer);
  config.rootfs.diff_ids = [...config.rootfs.diff_ids, sha256(layerTar)];
  config.config = { ...config.config, WorkingDir: '/app' };
  config.history = [...(config.history ?? []), { created_by: 'slipway: the build artifact at /app' }];
  const configBody = Buffer.from(JSON.stringify(config));

  // Base layers: linked from the base repository when both are in one registry, else copied.
  for (const l of baseManifest.layers) {
    if (await to.hasBlob(target.repository, l.digest)) continue;
    if (same && (await to.mountBlob(target.repository, l.digest, base.repository))) continue;
    o.log?.(`copying base layer ${l.digest.slice(7, 19)} (${Math.round(l.size / 1024)} KiB)`);
    await to.pushBlob(target.repository, await from.blob(base.repository, l.digest), l.digest);
  }
  o.log?.(`pushing the artifact layer ${layerDigest.slice(7, 19)} (${Math.round(layer.length / 1024)} KiB)`);
  await to.pushBlob(target.repository, layer, layerDigest);
  const configDigest = await to.pushBlob(target.repository, configBody);

  const newManifest = {
    schemaVersion: 2,
    mediaType: isOci ? MANIFEST_TYPES.ociManifest : MANIFEST_TYPES.dockerManifest,
    config: { mediaType: isOci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: configDigest, size: configBody.length },
    layers: [
      ...baseManifest.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      { mediaType: isOci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layerDigest, size: layer.length },
    ],
  };
  const body = Buffer.from(JSON.stringify(newManifest));
  const tag = `artifact-${sha256(body).slice(7, 23)}`;
  const digest = await to.putManifest(target.repository, tag, newManifest.mediaType, body);
  o.log?.(`pushed ${target.endpoint}/${target.repository}:${tag}`);
  return `${target.endpoint}/${target.repository}@${digest}`;
}
