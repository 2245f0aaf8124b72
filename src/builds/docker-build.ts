/**
 * A Dockerfile build through the container engine's build API (Docker, or Podman's Docker-compatible
 * service), as Northflank's `buildSettings.dockerfile` describes it: `dockerWorkDir` is the build context and
 * `dockerFilePath` the Dockerfile, both relative to the repository root ('/' is the root). The Dockerfile may
 * lie outside the context: then, as the Docker CLI does, it travels in the context archive under a generated
 * name that the build is told about. Build arguments go as `--build-arg` does, `dockerfileTarget` as
 * `--target`, `useCache: false` as `--no-cache`.
 *
 * The image stays in the engine's local store under a tag per build; nothing is pushed. The engine's output
 * reaches the build log line by line as it comes; a failed instruction fails the build with the engine's
 * own message.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import * as tar from 'tar';
import { connectionOptions } from '../runtime/docker/docker-driver.ts';
import { ValidationError } from '../errors/errors.ts';
import type { ServiceSpec } from '../domain/service.ts';
import { builtImageTag } from '../domain/built-image.ts';

/** `buildSettings.dockerfile` of the seed. */
export interface DockerfileSettings {
  dockerFilePath: string;
  dockerWorkDir: string;
  useCache?: boolean;
  buildEngine?: string;
}

export interface DockerfileBuildOptions {
  /** the checked-out repository (or extracted bundle); paths in `dockerfile` are relative to it */
  sourceDir: string;
  /** the tag the image gets, see `imageTag` */
  tag: string;
  dockerfile: DockerfileSettings;
  /** `buildArguments` of the service: names are logged, values never */
  buildArgs?: Record<string, string>;
  /** `buildConfiguration.dockerfileTarget` */
  target?: string;
  /** `buildConfiguration.includeGitFolder`: `.git` is left out of the context unless this is set */
  includeGitFolder?: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Lines of engine output kept for a failure message when the engine's error says nothing more. */
const TAIL_LINES = 5;

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** The tag of a build's image: see `builtImageTag`. */
export const imageTag = builtImageTag;

/**
 * What a service spec asks of its Dockerfile build, where the seed keeps it: `buildSettings.dockerfile`,
 * `buildArguments`, and `buildConfiguration.dockerfileTarget` / `includeGitFolder`.
 */
export function dockerfileBuildOf(spec: ServiceSpec): Pick<DockerfileBuildOptions, 'dockerfile' | 'buildArgs' | 'target' | 'includeGitFolder'> {
  const dockerfile = spec.buildSettings?.dockerfile as DockerfileSettings | undefined;
  if (!dockerfile) throw ValidationError.one('buildSettings.dockerfile', 'required', 'the service has no Dockerfile build settings');
  const conf = spec.buildConfiguration as { dockerfileTarget?: string; includeGitFolder?: boolean } | undefined;
  return {
    dockerfile,
    buildArgs: spec.buildArguments ?? {},
    ...(conf?.dockerfileTarget ? { target: conf.dockerfileTarget } : {}),
    ...(conf?.includeGitFolder ? { includeGitFolder: true } : {}),
  };
}

/**
 * A path of the repository as the seed gives it ('/', '/docker', '/docker/Dockerfile'; a leading '/' is
 * the repository root, and a relative path means the same), resolved inside `root`. A path with `..`, or
 * one that leads out of the repository through a symbolic link, is refused.
 */
function resolveInRepo(root: string, p: string, field: string): string {
  if (p.split(/[\\/]/).includes('..')) throw ValidationError.one(field, 'insideRepository', `'${p}' must not contain '..'`);
  const realRoot = fs.realpathSync(root);
  const abs = path.resolve(realRoot, `.${path.posix.sep}${p.replace(/^\/+/, '')}`);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    throw ValidationError.one(field, 'exists', `'${p}' does not exist in the repository`);
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw ValidationError.one(field, 'insideRepository', `'${p}' leads out of the repository`);
  return real;
}

export class DockerfileBuilder {
  private readonly docker: Docker;

  /** `dockerHost` as the docker runtime driver takes it; default `$DOCKER_HOST`, else the Docker socket (the same engine the driver runs on). */
  constructor(opts: { dockerHost?: string } = {}) {
    this.docker = new Docker(connectionOptions(opts.dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'));
  }

  /**
   * Builds the image and tags it `opts.tag`. Resolves with the tag and the image id once the engine has
   * built and tagged it; rejects with the engine's error (bad instruction, failing RUN, missing base image)
   * after its output is in the log, or with the abort reason. Writes a copy of an outside Dockerfile into
   * `sourceDir`, which the caller owns and throws away.
   */
  async build(opts: DockerfileBuildOptions): Promise<{ image: string; imageId?: string }> {
    const { log, signal } = opts;
    signal?.throwIfAborted();
    const context = resolveInRepo(opts.sourceDir, opts.dockerfile.dockerWorkDir || '/', 'buildSettings.dockerfile.dockerWorkDir');
    if (!fs.statSync(context).isDirectory()) throw ValidationError.one('buildSettings.dockerfile.dockerWorkDir', 'directory', `'${opts.dockerfile.dockerWorkDir}' is not a directory of the repository`);
    const dockerfile = resolveInRepo(opts.sourceDir, opts.dockerfile.dockerFilePath || '/Dockerfile', 'buildSettings.dockerfile.dockerFilePath');
    if (!fs.statSync(dockerfile).isFile()) throw ValidationError.one('buildSettings.dockerfile.dockerFilePath', 'file', `'${opts.dockerfile.dockerFilePath}' is not a file of the repository`);

    let dockerfileInContext = path.relative(context, dockerfile);
    if (dockerfileInContext.startsWith('..') || path.isAbsolute(dockerfileInContext)) {
      // Outside the context: the engine only sees the archive, so the Dockerfile goes in under a name of its own.
      dockerfileInContext = `.slipway-dockerfile-${crypto.randomBytes(6).toString('hex')}`;
      fs.copyFileSync(dockerfile, path.join(context, dockerfileInContext));
    }
    dockerfileInContext = dockerfileInContext.split(path.sep).join('/');

    const args = opts.buildArgs ?? {};
    const noCache = opts.dockerfile.useCache === false;
    log(`-----> Building ${opts.dockerfile.dockerFilePath} with context ${opts.dockerfile.dockerWorkDir || '/'}${opts.target ? `, target ${opts.target}` : ''}${noCache ? ', without cache' : ''}`);
    if (Object.keys(args).length) log(`-----> Build arguments: ${Object.keys(args).sort().join(', ')}`);
    if (opts.dockerfile.buildEngine) log(`-----> buildEngine '${opts.dockerfile.buildEngine}': the container engine's own builder is used`);

    const skipGit = !opts.includeGitFolder;
    const archive = tar.c(
      { cwd: context, portable: true, filter: (p: string) => !(skipGit && (p === './.git' || p.startsWith('./.git/'))) },
      ['.'],
    ) as unknown as NodeJS.ReadableStream;

    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.buildImage(archive, {
        t: opts.tag,
        dockerfile: dockerfileInContext,
        ...(Object.keys(args).length ? { buildargs: args } : {}),
        ...(opts.target ? { target: opts.target } : {}),
        nocache: noCache,
        rm: true,
        forcerm: true,
        ...(signal ? { abortSignal: signal } : {}),
      } as Docker.ImageBuildOptions);
    } catch (err) {
      signal?.throwIfAborted();
      throw new Error(`the container engine refused the build: ${engineMessage(err)}`, { cause: err });
    }

    const tail: string[] = [];
    let rest = '';
    const emit = (text: string) => {
      rest += text;
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/\r$/, '');
        log(line);
        if (line.trim()) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      }
    };
    let imageId: string | undefined;
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          if (rest) emit('\n');
          if (signal?.aborted) return reject(signal.reason);
          if (err) return reject(new Error(`the build stream broke: ${err.message}`, { cause: err }));
          resolve();
        },
        (e: BuildEvent) => {
          if (e.stream) emit(e.stream);
          else if (e.status) emit(`${e.status}\n`);
          if (e.aux?.ID) imageId = e.aux.ID;
          if (e.error || e.errorDetail?.message) {
            failure = (e.errorDetail?.message ?? e.error ?? '').trim();
            emit(`${failure}\n`);
          }
        },
      );
    });
    if (failure !== undefined) throw new Error(`Dockerfile build failed: ${failure || tail.join(' | ') || 'the engine gave no reason'}`);
    // The stream can end without an error event and without an image (an engine that died mid-build): the tag says.
    const inspected = await this.docker
      .getImage(opts.tag)
      .inspect()
      .catch((err: unknown) => {
        throw new Error(`the engine reported no error but has no image ${opts.tag}: ${engineMessage(err)}`, { cause: err });
      });
    return { image: opts.tag, imageId: inspected.Id ?? imageId };
  }

  /** Removes a build's image (by tag); a missing image is not an error. */
  async removeImage(tag: string): Promise<void> {
    await this.docker
      .getImage(tag)
      .remove({ noprune: false })
      .catch((err: { statusCode?: number }) => {
        if (err?.statusCode !== 404) throw err;
      });
  }
}

function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string } | string; message?: string };
  const json = typeof e?.json === 'string' ? e.json : e?.json?.message;
  return (json ?? e?.message ?? String(err)).toString().trim().slice(0, 1000);
}
