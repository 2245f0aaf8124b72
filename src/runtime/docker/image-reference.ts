/**
 * An image reference as the engine resolves it, taken apart for the Docker Registry HTTP API v2: the
 * registry host to contact, the repository path inside it, and the tag or digest. `nginx` is
 * `registry-1.docker.io`, `library/nginx`, `latest`; `127.0.0.1:5000/team/app@sha256:…` keeps its host.
 */
import { registryHostOf } from '../../domain/registry-credentials.ts';

export interface ImageReference {
  /** the registry as the reference names it: `docker.io`, `ghcr.io`, `127.0.0.1:5000`, `localhost` */
  registry: string;
  /** the host (and port) the registry API answers on: Docker Hub's is `registry-1.docker.io` */
  endpoint: string;
  /** the repository inside the registry: `library/nginx`, `team/app` */
  repository: string;
  /** a tag (`latest` when none is named) or a digest (`sha256:…`) */
  reference: string;
}

const DOCKER_HUB = 'docker.io';

export function parseImageReference(image: string): ImageReference {
  let rest = image.trim();
  let reference: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // A tag follows the last colon after the last slash (a colon before it is a registry port).
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    // With a digest the tag is ignored, as the engine does.
    reference ??= rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const named = registryHostOf(rest);
  const explicit = named !== DOCKER_HUB || rest.startsWith(`${DOCKER_HUB}/`) || rest.startsWith('index.docker.io/');
  let repository = explicit ? rest.slice(rest.indexOf('/') + 1) : rest;
  const registry = named === 'index.docker.io' ? DOCKER_HUB : named;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, endpoint: registry === DOCKER_HUB ? 'registry-1.docker.io' : registry, repository, reference: reference || 'latest' };
}

/**
 * Whether the reference names no registry at all: Podman keeps images it built or was given under
 * `localhost/…` (the platform's own builds are `localhost/slipway/…`), and no registry serves them.
 */
export function isLocalOnly(ref: ImageReference): boolean {
  return ref.registry === 'localhost';
}
