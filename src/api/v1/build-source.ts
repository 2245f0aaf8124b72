/**
 * The source a build or combined service builds from, as the `/v1` face takes it: git (`vcsData`) or
 * uploaded bundles (`buildSource: 'bundle'`; each bundle uploaded to `POST /projects/{p}/services/{s}/bundles`,
 * started with `bundleUrl` on `POST …/build`, or named by `bundleData.bundleUrl` on a create or update).
 * Everything is checked, and a named bundle read, before anything is stored, so a request refused here
 * leaves nothing behind.
 */
import fs from 'node:fs/promises';
import type { ServiceKind, ServiceSpec } from '../../domain/service.ts';
import { ValidationError } from '../../errors/errors.ts';

type SourceSpec = Partial<ServiceSpec> & { buildSource?: string; bundleData?: { bundleUrl: string; branch?: string } };

/** `bundleUrl` may name a local .tar.gz: an absolute path or a file:// URL. */
export function bundlePath(url: string, field = 'bundleUrl'): string {
  const p = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  if (!p.startsWith('/')) throw ValidationError.one(field, 'supported', `${field} must be an absolute path or a file:// URL on this machine`);
  return p;
}

/** The bytes of the bundle `bundleData` names: a readable .tar.gz, else a 400 naming the field. */
async function readBundle(bundleUrl: string): Promise<Buffer> {
  const file = bundlePath(bundleUrl, 'bundleData.bundleUrl');
  const data = await fs.readFile(file).catch(() => {
    throw ValidationError.one('bundleData.bundleUrl', 'exists', `cannot read ${file}`);
  });
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) throw ValidationError.one('bundleData.bundleUrl', 'gzip', 'the source bundle must be a .tar.gz archive');
  return data;
}

/** A create's source: exactly one of git and bundle. Returns the bundle `bundleData` names, to build once created. */
export async function bundleOfSource(kind: ServiceKind, spec: SourceSpec): Promise<Buffer | undefined> {
  if (kind === 'deployment') return undefined;
  const isBundle = spec.buildSource === 'bundle';
  if (isBundle && spec.vcsData) throw ValidationError.one('vcsData', 'oneOf', "a service with buildSource 'bundle' builds uploaded bundles: leave out vcsData, or set buildSource 'git'");
  if (!isBundle && spec.bundleData) throw ValidationError.one('bundleData', 'oneOf', "bundleData needs buildSource 'bundle'");
  if (!isBundle && !spec.vcsData) throw ValidationError.one('vcsData', 'required', "give vcsData (a repository), or buildSource 'bundle' and upload source bundles");
  return spec.bundleData ? readBundle(spec.bundleData.bundleUrl) : undefined;
}

/**
 * An update's source: a repository (`vcsData`) makes the service build from git, `buildSource: 'bundle'` or
 * `bundleData` from bundles (the repository is dropped: a service has one source), and `buildSource: 'git'`
 * needs a repository, given or stored. Returns the patch to store and the bundle to build, if one is named.
 */
export async function sourcePatch<T extends SourceSpec>(kind: ServiceKind, patch: T, stored: () => Promise<ServiceSpec | undefined>): Promise<{ patch: T; bundle?: Buffer }> {
  if (kind === 'deployment') return { patch };
  const toBundle = patch.buildSource === 'bundle' || (patch.bundleData !== undefined && patch.buildSource === undefined);
  if (toBundle && patch.vcsData) throw ValidationError.one('vcsData', 'oneOf', "a service with buildSource 'bundle' builds uploaded bundles: leave out vcsData, or set buildSource 'git'");
  if (toBundle) return { patch: { ...patch, buildSource: 'bundle', vcsData: undefined }, bundle: patch.bundleData ? await readBundle(patch.bundleData.bundleUrl) : undefined };
  if (patch.bundleData) throw ValidationError.one('bundleData', 'oneOf', "bundleData needs buildSource 'bundle'");
  if (patch.vcsData) return { patch: { ...patch, buildSource: 'git', bundleData: undefined } };
  if (patch.buildSource === 'git' && !(await stored())?.vcsData) throw ValidationError.one('vcsData', 'required', "buildSource 'git' needs vcsData (a repository)");
  return { patch };
}
