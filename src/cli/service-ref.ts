/** Which project and service a command acts on, and the API paths of that service on each face. */

export interface ServiceRef {
  project: string;
  service: string;
}

export interface ServicePaths {
  /** the Northflank face: `/v1/projects/{p}/services/{s}` */
  v1: string;
  /** the native routes: `/projects/{p}/services/{s}` */
  native: string;
}

export function servicePaths(project: string, service: string): ServicePaths {
  const p = encodeURIComponent(project);
  const s = encodeURIComponent(service);
  return { v1: `/v1/projects/${p}/services/${s}`, native: `/projects/${p}/services/${s}` };
}

export function projectPath(project: string): string {
  return `/v1/projects/${encodeURIComponent(project)}`;
}

/** `-p/--project` and `-s/--service`, falling back to SLIPWAY_PROJECT / SLIPWAY_SERVICE. */
export function requireProject(opts: { project?: string }, env: NodeJS.ProcessEnv = process.env): string {
  const project = opts.project ?? env.SLIPWAY_PROJECT;
  if (!project) throw new UsageError('missing project: pass -p <project> (or set SLIPWAY_PROJECT)');
  return project;
}

export function requireService(opts: { project?: string; service?: string }, env: NodeJS.ProcessEnv = process.env): ServiceRef {
  const project = requireProject(opts, env);
  const service = opts.service ?? env.SLIPWAY_SERVICE;
  if (!service) throw new UsageError('missing service: pass -s <service> (or set SLIPWAY_SERVICE)');
  return { project, service };
}

/** A mistake in how the command was called (exit code 2), as opposed to a failure of the platform. */
export class UsageError extends Error {
  override name = 'UsageError';
}
