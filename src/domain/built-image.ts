/**
 * Images the platform builds from Dockerfiles stay in the engine's store under one name per build:
 * `localhost/slipway/<project>/<service>:<build id>`. Project and service ids are lower-case letters, digits and
 * hyphens and build ids `build-<lower-case alnum>`, so each part is a valid Docker repository path component and
 * tag; `localhost` as the first component names no real registry (Docker and Podman both take it as a domain, so
 * nothing is looked up on Docker Hub).
 *
 * No registry stands behind these names, so no registry can refuse them: a deployment or job naming another
 * project's built image would run it from the engine's cache. The rule below keeps each project to its own.
 */
import type { FieldProblem } from '../errors/errors.ts';

const PREFIX = 'localhost/slipway/';

export function builtImageTag(projectId: string, serviceId: string, buildId: string): string {
  return `${PREFIX}${projectId}/${serviceId}:${buildId}`;
}

/** A problem when `imagePath` names an image the platform built for a project other than `projectId`. */
export function builtImageProblem(field: string, imagePath: string, projectId: string): FieldProblem | undefined {
  if (!imagePath.toLowerCase().startsWith(PREFIX)) return undefined;
  const owner = imagePath.slice(PREFIX.length).split('/')[0];
  if (owner === projectId) return undefined;
  return { field, rule: 'ownProject', message: `'${imagePath}' is an image built for another project; deploy images of project '${projectId}' or from a registry` };
}
