/**
 * Names and ids as Northflank derives them: an id is the name lower-cased with runs of spaces turned into
 * hyphens, so the project "My App" has the id `my-app`.
 */
import crypto from 'node:crypto';

export const RESOURCE_NAME_PATTERN = /^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$/;
export const RESOURCE_ID_PATTERN = /^[a-z](-?[a-z0-9]+(-[a-z0-9]+)*)?$/;

export function idFromName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '-');
}

/** A short random id with a readable prefix, e.g. `build-3k9x2m7q`. */
export function randomId(prefix: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(10);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}-${out}`;
}

/** Internal key of a service: project and service ids together, unique across the platform. */
export function serviceKey(projectId: string, serviceId: string): string {
  return `${projectId}/${serviceId}`;
}

export function parseServiceKey(key: string): { projectId: string; serviceId: string } {
  const i = key.indexOf('/');
  return { projectId: key.slice(0, i), serviceId: key.slice(i + 1) };
}
