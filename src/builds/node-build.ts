/**
 * A buildpack-style build of a Node app, like Heroku's Node buildpack: install with the lockfile when there is
 * one (`npm ci`, else `npm install`, dev dependencies included so build tools exist), run `build` if the app
 * has one, prune dev dependencies. The start commands come from start-command.ts.
 *
 * The artifact is assembled in a temporary sibling of its final directory and renamed into place at the end
 * (same filesystem, so the rename is atomic): a failed or aborted build leaves nothing behind, and a
 * directory at `outDir` is always a complete artifact. The runtime mounts it read-only at /app, so nothing
 * in it may depend on the host path it was built at; symlinks that npm or a build script made absolute
 * are rewritten relative.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, UnprocessableError, ValidationError } from '../errors/errors.ts';
import { runBuildStep } from './build-step.ts';
import { resolveProcesses, type PackageManifest } from './start-command.ts';
import { SYSTEM_PATH } from '../domain/system-path.ts';

export interface BuildOutput {
  stack: 'node';
  /**
   * Process type → shell command, run by the runtime with `sh -c` in the artifact directory and
   * `<artifact>/node_modules/.bin` on PATH. Has `web` whenever one could be derived.
   */
  processes: Record<string, string>;
  /** `node --version` of the node the build ran with, the same PATH lookup the runtime makes */
  nodeVersion: string;
}

export interface NodeBuildOptions {
  sourceDir: string;
  /** must not exist yet */
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** added to the build's clean environment (build-time variables of the service) */
  env?: Record<string, string>;
  /** npm's download cache, kept between builds when given; otherwise a fresh one per build */
  cacheDir?: string;
}

/** What the artifact records about its build, in `<artifact>/.slipway/build.json`. */
export interface BuildMetadata extends BuildOutput {
  /** the npm commands that ran, in order; empty for a Procfile-only app */
  steps: string[];
  builtAt: string;
}

export const BUILD_METADATA_PATH = '.slipway/build.json';

/** The PATH the runtime gives an instance, with the artifact's own tools first; mirrored so the build uses the same node. */
const SYSTEM_DIRS = SYSTEM_PATH.split(':');

export async function detectStack(sourceDir: string): Promise<'node' | 'dockerfile' | 'unknown'> {
  const has = (f: string) => fs.existsSync(path.join(sourceDir, f));
  if (has('package.json')) return 'node';
  if (has('Dockerfile')) return 'dockerfile';
  if (has('Procfile')) return 'node';
  return 'unknown';
}

export async function buildNodeApp(opts: NodeBuildOptions): Promise<BuildOutput> {
  if (fs.existsSync(opts.outDir)) throw new ConflictError(`artifact directory ${opts.outDir} already exists`);
  const base = path.basename(opts.outDir);
  fs.mkdirSync(path.dirname(opts.outDir), { recursive: true });
  // The real path, so the check for links pointing into the artifact sees the paths npm writes.
  const parent = fs.realpathSync(path.dirname(opts.outDir));
  // Leftovers of a build of the same artifact that a killed control plane never finished.
  for (const f of fs.readdirSync(parent)) if (f.startsWith(`${base}.tmp-`)) fs.rmSync(path.join(parent, f), { recursive: true, force: true });

  const work = path.join(parent, `${base}.tmp-${crypto.randomBytes(4).toString('hex')}`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-build-home-'));
  const { log, signal } = opts;
  try {
    fs.cpSync(opts.sourceDir, work, { recursive: true, verbatimSymlinks: true, filter: (src) => path.basename(src) !== '.git' });
    const pkg = readPackageJson(work);
    const procfilePath = path.join(work, 'Procfile');
    const procfile = fs.existsSync(procfilePath) ? fs.readFileSync(procfilePath, 'utf8') : undefined;
    if (!pkg && procfile === undefined) throw new UnprocessableError('neither a package.json nor a Procfile: not a Node app this build understands');

    const execDir = path.dirname(process.execPath);
    const env: Record<string, string> = {
      PATH: [path.join(work, 'node_modules/.bin'), ...SYSTEM_DIRS, ...(SYSTEM_DIRS.includes(execDir) ? [] : [execDir])].join(':'),
      HOME: home,
      TMPDIR: home,
      LANG: 'C.UTF-8',
      CI: 'true',
      npm_config_cache: opts.cacheDir ?? path.join(home, 'npm-cache'),
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      ...opts.env,
    };
    const nodeVersion = await nodeVersionOf(env, signal);
    const engines = typeof pkg?.engines?.node === 'string' ? ` (engines.node asks for ${pkg.engines.node})` : '';
    log(`-----> Using Node.js ${nodeVersion}${engines}`);

    const steps: string[] = [];
    const step = async (title: string, argv: string[]) => {
      await runBuildStep({ title, argv, cwd: work, env, log, signal });
      steps.push(argv.join(' '));
    };
    if (pkg) {
      const locked = fs.existsSync(path.join(work, 'package-lock.json')) || fs.existsSync(path.join(work, 'npm-shrinkwrap.json'));
      const install = locked ? 'ci' : 'install';
      await step(`Installing dependencies (npm ${install})`, ['npm', install, '--include=dev', '--no-audit', '--no-fund']);
      if (typeof pkg.scripts?.build === 'string') await step('Running build (npm run build)', ['npm', 'run', 'build']);
      await step('Pruning devDependencies (npm prune --omit=dev)', ['npm', 'prune', '--omit=dev', '--no-audit', '--no-fund']);
    } else {
      log('-----> No package.json: skipping npm, the Procfile says how to start');
    }

    for (const line of relinkInside(work)) log(`-----> ${line}`);
    const resolved = resolveProcesses({ procfile, pkg, hasFile: (f) => isFileInside(work, f) });
    for (const note of resolved.notes) log(`-----> ${note}`);
    const { processes } = resolved;
    log(`-----> Process types: ${Object.entries(processes).map(([type, cmd]) => `${type} (${cmd})`).join(', ') || 'none'}`);

    const meta: BuildMetadata = { stack: 'node', processes, nodeVersion, steps, builtAt: new Date().toISOString() };
    // The platform owns .slipway/: whatever the source had there (possibly a link out of the tree) goes first.
    fs.rmSync(path.join(work, path.dirname(BUILD_METADATA_PATH)), { recursive: true, force: true });
    fs.mkdirSync(path.join(work, path.dirname(BUILD_METADATA_PATH)));
    fs.writeFileSync(path.join(work, BUILD_METADATA_PATH), `${JSON.stringify(meta, null, 2)}\n`);

    signal?.throwIfAborted();
    try {
      fs.renameSync(work, opts.outDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ConflictError(`artifact directory ${opts.outDir} appeared during the build`);
      throw err;
    }
    return { stack: 'node', processes, nodeVersion };
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function readPackageJson(dir: string): PackageManifest | undefined {
  const file = path.join(dir, 'package.json');
  if (!fs.existsSync(file)) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw ValidationError.one('package.json', 'json', `package.json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) throw ValidationError.one('package.json', 'object', 'package.json must hold a JSON object');
  return pkg as PackageManifest;
}

function nodeVersionOf(env: Record<string, string>, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('node', ['--version'], { env, signal }, (err, stdout) => {
      if (err && signal?.aborted) reject(signal.reason);
      else if (err) reject(new Error(`cannot run node for the build: ${err.message}`, { cause: err }));
      else resolve(stdout.trim());
    });
  });
}

function isFileInside(root: string, rel: string): boolean {
  const abs = path.resolve(root, rel);
  if (!abs.startsWith(root + path.sep)) return false;
  try {
    return fs.statSync(abs).isFile();
  } catch {
    return false;
  }
}

/**
 * Rewrites absolute symlinks that point into the artifact as relative ones, so they resolve wherever the
 * artifact is mounted; reports absolute links to elsewhere, which will only resolve if the runtime happens
 * to have the same path.
 */
function relinkInside(root: string): string[] {
  const notes: string[] = [];
  for (const d of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!d.isSymbolicLink()) continue;
    const link = path.join(d.parentPath ?? d.path, d.name);
    const target = fs.readlinkSync(link);
    if (!path.isAbsolute(target)) continue;
    if (target === root || target.startsWith(root + path.sep)) {
      fs.unlinkSync(link);
      fs.symlinkSync(path.relative(path.dirname(link), target) || '.', link);
    } else {
      notes.push(`warning: ${path.relative(root, link)} links to ${target}, outside the app`);
    }
  }
  return notes;
}
