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

/** A UUID-shaped guid derived from a name: stable across restarts, distinct per name (the API faces' guids). */
/** A service's stable GUID (the CF face's app guid): derived from its key and creation time, stored with it (store column `services.guid`). */
export function serviceGuid(projectId: string, id: string, createdAt: string): string {
  return derivedGuid(`slipway:app:${projectId}/${id}/${createdAt}`);
}

export function derivedGuid(name: string): string {
  const h = crypto.createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
