/**
 * Source from git: a local repository path or a file:// URL (projectType 'self-hosted'). Uses the git
 * binary, the one implementation that speaks every transport, with argv arrays, no prompts and none of the
 * host user's or system's git configuration (which could name hooks, credential helpers or filters to run).
 * Refs resolve to full commit SHAs, which key the builds.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError, ValidationError } from '../errors/errors.ts';
import { hostedRepoPath } from './hosted-repos.ts';

const SHA_PATTERN = /^[0-9a-f]{40}$/;
const BRANCH_PATTERN = /^[A-Za-z0-9._/-]{1,200}$/;

// Only what git needs: the control plane's own environment (tokens, database URL) is none of its business.
const GIT_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: os.tmpdir(),
  LC_ALL: 'C',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ASKPASS: '/bin/false',
  GIT_SSH_COMMAND: '/bin/false',
};

class GitFailure extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(`git ${args.filter((a) => !a.startsWith('/')).join(' ')} failed (${exitCode}): ${stderr.trim().split('\n').slice(-3).join(' ') || 'no output'}`);
  }
}

function git(args: string[], opts: { signal?: AbortSignal } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { env: GIT_ENV, signal: opts.signal, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout.trim());
      if (opts.signal?.aborted) return reject(opts.signal.reason ?? err);
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      if (e.code === 'ENOENT') return reject(new Error('git is not installed on this machine', { cause: err }));
      reject(new GitFailure(args, e.code ?? null, String(stderr)));
    });
  });
}

/** The repository directory named by `url`: a repository slipway hosts, an absolute path or a file:// URL. */
export function localRepoPath(url: string): string {
  const hosted = hostedRepoPath(url);
  if (hosted) return hosted;
  let p: string;
  if (url.startsWith('file://')) {
    try {
      p = fileURLToPath(url);
    } catch (err) {
      throw ValidationError.one('vcsData.projectUrl', 'fileUrl', `'${url}' is not a valid file:// URL: ${(err as Error).message}`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(url) || /^[^/]+@[^/]+:/.test(url)) {
    throw ValidationError.one('vcsData.projectUrl', 'supported', 'only local repositories are supported for now: an absolute path or a file:// URL');
  } else {
    p = url;
  }
  if (!path.isAbsolute(p)) throw ValidationError.one('vcsData.projectUrl', 'absolute', `'${url}' must be an absolute path or a file:// URL`);
  if (!fs.existsSync(p)) throw ValidationError.one('vcsData.projectUrl', 'exists', `no repository at ${p}`);
  return path.resolve(p);
}

async function gitDir(repo: string, signal?: AbortSignal): Promise<void> {
  try {
    await git(['-C', repo, 'rev-parse', '--git-dir'], { signal });
  } catch (err) {
    if (!(err instanceof GitFailure)) throw err;
    const hint = /dubious ownership/.test(err.stderr) ? ' (it is owned by another user; git refuses to read it)' : '';
    throw ValidationError.one('vcsData.projectUrl', 'repository', `${repo} is not a readable git repository${hint}`);
  }
}

/**
 * A branch name or a full 40-character SHA (or nothing: the repository's HEAD, the default branch) → the
 * commit it names. Throws NotFoundError for a branch or commit the repository does not have, and
 * ValidationError for a URL or ref that cannot be used.
 */
export async function resolveGitRef(opts: { url: string; ref?: string; signal?: AbortSignal }): Promise<{ sha: string; branch?: string }> {
  const repo = localRepoPath(opts.url);
  const ref = opts.ref?.trim() || undefined;
  if (ref !== undefined && SHA_PATTERN.test(ref.toLowerCase())) {
    await gitDir(repo, opts.signal);
    const sha = ref.toLowerCase();
    try {
      await git(['-C', repo, 'cat-file', '-e', `${sha}^{commit}`], opts);
    } catch (err) {
      if (err instanceof GitFailure) throw new NotFoundError('commit', sha);
      throw err;
    }
    return { sha };
  }
  // A leading dash would read as an option to git; the pattern is what git itself allows, less its oddities.
  if (ref !== undefined && (ref.startsWith('-') || !BRANCH_PATTERN.test(ref) || ref.includes('..') || ref.endsWith('.lock') || ref.endsWith('/'))) {
    throw ValidationError.one('branch', 'pattern', `'${ref}' is not a branch name or a full 40-character commit SHA`);
  }
  await gitDir(repo, opts.signal);
  let sha: string;
  try {
    sha = await git(['-C', repo, 'rev-parse', '--verify', '--quiet', `${ref ? `refs/heads/${ref}` : 'HEAD'}^{commit}`], opts);
  } catch (err) {
    if (err instanceof GitFailure) throw new NotFoundError('branch', ref ?? 'HEAD');
    throw err;
  }
  if (ref) return { sha, branch: ref };
  const head = await git(['-C', repo, 'symbolic-ref', '--quiet', '--short', 'HEAD'], opts).catch(() => '');
  return head ? { sha, branch: head } : { sha };
}

/**
 * What build rules look at: the commit's message and, when an earlier commit is given and known, the paths
 * changed since it (undefined when they cannot be told, e.g. after a force push).
 */
export async function commitInfo(opts: { url: string; sha: string; since?: string }): Promise<{ message: string; changed?: string[] }> {
  const repo = localRepoPath(opts.url);
  if (!SHA_PATTERN.test(opts.sha) || (opts.since && !SHA_PATTERN.test(opts.since))) throw ValidationError.one('sha', 'pattern', 'full 40-character commit SHAs are required');
  const message = await git(['-C', repo, 'log', '-1', '--format=%B', opts.sha]);
  if (!opts.since) return { message };
  try {
    const out = await git(['-C', repo, 'diff', '--name-only', '--no-renames', opts.since, opts.sha]);
    return { message, changed: out.split('\n').filter(Boolean) };
  } catch {
    return { message };
  }
}

/**
 * Checks out exactly `sha` into `dest` (absent or empty), fetching only that commit, and removes `.git`:
 * the build sees the tree and nothing of the history. On failure `dest` is removed again.
 */
export async function checkoutGit(opts: { url: string; sha: string; dest: string; signal?: AbortSignal; log?: (line: string) => void }): Promise<void> {
  const repo = localRepoPath(opts.url);
  const sha = opts.sha.toLowerCase();
  if (!SHA_PATTERN.test(sha)) throw ValidationError.one('sha', 'pattern', 'a full 40-character commit SHA is required');
  if (fs.existsSync(opts.dest) && fs.readdirSync(opts.dest).length > 0) throw ValidationError.one('dest', 'empty', `${opts.dest} is not empty`);
  await gitDir(repo, opts.signal);
  opts.log?.(`-----> Fetching ${sha.slice(0, 12)} from ${repo}`);
  fs.mkdirSync(opts.dest, { recursive: true });
  try {
    // An empty template: no sample hooks, nothing of the host's git setup in the build's working copy.
    await git(['init', '-q', '--template=', opts.dest], opts);
    try {
      await git(['-C', opts.dest, 'fetch', '-q', '--depth', '1', '--no-tags', '--no-recurse-submodules', repo, sha], opts);
    } catch (err) {
      if (err instanceof GitFailure && /not our ref|couldn't find remote ref|no such remote ref|unadvertised object/i.test(err.stderr)) throw new NotFoundError('commit', sha);
      throw err;
    }
    await git(['-C', opts.dest, '-c', 'advice.detachedHead=false', '-c', 'core.hooksPath=/dev/null', 'checkout', '-q', 'FETCH_HEAD'], opts);
    const checkedOut = await git(['-C', opts.dest, 'rev-parse', 'HEAD'], opts);
    if (checkedOut !== sha) throw new Error(`checked out ${checkedOut}, expected ${sha}`);
    fs.rmSync(path.join(opts.dest, '.git'), { recursive: true, force: true });
    opts.log?.(`-----> Checked out ${sha}`);
  } catch (err) {
    fs.rmSync(opts.dest, { recursive: true, force: true });
    throw err;
  }
}
