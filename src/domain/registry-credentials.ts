/**
 * Saved container registry credentials (Northflank's "registries" integration): what a service's
 * `deployment.external.credentials` names so the runtime can pull a private image. The password is a
 * secret: it is sealed at rest and only the runtime, at pull time, ever sees it in plain text.
 */

export const REGISTRY_PROVIDERS = ['acr', 'ecr', 'gar', 'dockerhub', 'dhi', 'github', 'gitlab', 'custom', 'legacy'] as const;
export type RegistryProvider = (typeof REGISTRY_PROVIDERS)[number];

export interface RegistryScope {
  pull?: boolean;
  push?: boolean;
}

export interface RegistryRestrictions {
  restricted: boolean;
  projects?: string[];
}

/** The open (non-secret) part of a saved credential, as stored and as read back. */
export interface RegistryCredentialSpec {
  name: string;
  provider: RegistryProvider;
  registryUrl?: string;
  aws?: { region?: string };
  gcp?: { projectId?: string };
  azure?: { resourceGroup?: string };
  integrationId?: string;
  username?: string;
  scope: RegistryScope;
  restrictions: RegistryRestrictions;
}

export interface RegistryCredentialRecord {
  id: string;
  spec: RegistryCredentialSpec;
  /** whether a password is saved (the password itself never leaves the store but for a pull) */
  hasPassword: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** What the runtime sends the engine for a pull. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** Whether a project may use a credential: unrestricted ones serve every project, restricted ones those listed. */
export function isUsableBy(spec: RegistryCredentialSpec, projectId: string): boolean {
  return !spec.restrictions.restricted || (spec.restrictions.projects ?? []).includes(projectId);
}

/**
 * The registry host of an image reference, as the engine resolves it: the first path component when it
 * looks like a host (has a dot or a port, or is `localhost`), else Docker Hub.
 */
export function registryHostOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** `https://ghcr.io/v2/` → `ghcr.io`; `127.0.0.1:5000` stays as it is. */
export function hostOfRegistryUrl(url: string): string {
  return url.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/', 1)[0];
}

/** The server address a pull authenticates against: the credential's registry URL host, else the image's registry. */
export function serverAddressFor(spec: RegistryCredentialSpec, image: string): string {
  return spec.registryUrl ? hostOfRegistryUrl(spec.registryUrl) : registryHostOf(image);
}
