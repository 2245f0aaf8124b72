/**
 * GitOps for release flows: the template kept as a JSON file on a branch of a repository slipway hosts. This
 * module is the git side, as pure plumbing on the bare repository (no work tree): check a `gitops` block,
 * read the file at a branch head, commit a new version of it (compare-and-swap on the branch, so a push that
 * lands in between is never overwritten), and render a template as the file holds it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FieldProblem } from '../errors/errors.ts';
import { parseHostedUrl } from '../builds/hosted-repos.ts';

export interface GitopsSpec {
  vcsService: string;
  repoUrl: string;
  branch: string;
  filePath: string;
  selfHostedVcsId?: string;
  accountLogin?: string;
  vcsLinkId?: string;
}

/** Keys a release flow file may hold (the template of `update.releaseFlow`; `gitops` itself is ignored there). */
export const FILE_KEYS = ['apiVersion', 'arguments', 'triggers', 'options', '$schema', 'richInputs', 'teardownSpec', 'concurrencyPolicy', 'spec', 'gitops', 'project'] as const;

const GIT_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'slipway',
  GIT_AUTHOR_EMAIL: 'slipway@localhost',
  GIT_COMMITTER_NAME: 'slipway',
  GIT_COMMITTER_EMAIL: 'slipway@localhost',
};
const BRANCH = /^(?!\/|.*\/$|.*\/\/|.*\.\.|.*@\{|.*\.lock$|-)[A-Za-z0-9._/-]{1,200}$/;

function git(dir: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', dir, ...args], { env: { ...GIT_ENV, ...(opts.env ?? {}) }, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // git may exit before reading it all; its exit code tells
      child.stdin.end(opts.input);
    }
  });
}

async function gitOk(dir: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await git(dir, args, opts);
  if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** What is wrong with a `gitops` block of a flow in `projectId` (fields named `gitops.*`). */
export function gitopsProblems(projectId: string, g: GitopsSpec): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (g.vcsService !== 'self-hosted') problems.push({ field: 'gitops.vcsService', rule: 'supported', message: "the file is kept in a repository slipway hosts: vcsService 'self-hosted' with the repository's /git/… URL" });
  const hosted = typeof g.repoUrl === 'string' ? parseHostedUrl(g.repoUrl) : undefined;
  if (!hosted) problems.push({ field: 'gitops.repoUrl', rule: 'hosted', message: 'the URL of a repository slipway hosts: http://<api>/git/{project}/{service}.git' });
  else if (hosted.projectId !== projectId) problems.push({ field: 'gitops.repoUrl', rule: 'sameProject', message: `the repository must be one of project '${projectId}'` });
  if (typeof g.branch !== 'string' || !BRANCH.test(g.branch)) problems.push({ field: 'gitops.branch', rule: 'branchName', message: 'a branch name: letters, digits, . _ / -, no "..", no leading "/" or "-"' });
  const segs = typeof g.filePath === 'string' ? g.filePath.split('/') : [];
  if (!segs.length || segs.some((s) => s === '' || s === '.' || s === '..' || s === '.git') || /[\0\n\r\\]/.test(g.filePath)) {
    problems.push({ field: 'gitops.filePath', rule: 'relativePath', message: 'a path inside the repository, e.g. release-flows/staging.json (no leading "/", no "." or ".." parts)' });
  }
  return problems;
}

/** The template as its file holds it: everything but where the file is (`gitops`), pretty JSON. */
export function renderFile(template: Record<string, unknown>): string {
  const { gitops: _g, project: _p, ...rest } = template;
  return `${JSON.stringify({ apiVersion: 'v1.2', ...rest }, null, 2)}\n`;
}

/** The head of `branch` in the bare repository, or undefined when the branch does not exist. */
export async function branchHead(dir: string, branch: string): Promise<string | undefined> {
  const r = await git(dir, ['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The file's text at a commit, or undefined when the commit has no such file. */
export async function readFileAt(dir: string, sha: string, filePath: string): Promise<string | undefined> {
  const r = await git(dir, ['cat-file', 'blob', `${sha}:${filePath}`]);
  return r.code === 0 ? r.stdout : undefined;
}

/**
 * Commit `content` as `filePath` on `branch` (created if it does not exist). The branch moves only if it is
 * still where it was read (else an Error: someone pushed in between). Returns the branch head after it, and
 * whether a commit was made (none when the file already holds exactly this).
 */
export async function commitFile(dir: string, branch: string, filePath: string, content: string, message: string): Promise<{ sha: string; committed: boolean }> {
  const parent = await branchHead(dir, branch);
  const blob = await gitOk(dir, ['hash-object', '-w', '--stdin'], { input: content });
  if (parent) {
    const cur = await git(dir, ['rev-parse', '--verify', '-q', `${parent}:${filePath}`]);
    if (cur.code === 0 && cur.stdout.trim() === blob) return { sha: parent, committed: false };
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-gitops-'));
  try {
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
    await gitOk(dir, parent ? ['read-tree', parent] : ['read-tree', '--empty'], { env });
    await gitOk(dir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${filePath}`], { env });
    const tree = await gitOk(dir, ['write-tree'], { env });
    const commit = await gitOk(dir, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], { input: `${message}\n` });
    const moved = await git(dir, ['update-ref', `refs/heads/${branch}`, commit, parent ?? '']);
    if (moved.code !== 0) throw new Error(`branch '${branch}' moved while the file was written: try again`);
    return { sha: commit, committed: true };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The same JSON value with object keys sorted: two templates that differ only in key order compare equal. */
export function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => (Array.isArray(x) ? x.map(sort) : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])])) : x);
  return JSON.stringify(sort(v));
}

/** Parse a file's text into a template, or the problems with it (fields named `file`, `file.<key>`). */
export function parseFile(text: string): { template?: Record<string, unknown>; problems: FieldProblem[] } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { problems: [{ field: 'file', rule: 'json', message: `the file is not JSON: ${(err as Error).message}` }] };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { problems: [{ field: 'file', rule: 'object', message: 'the file holds one JSON object: the release flow template' }] };
  const t = v as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  for (const k of Object.keys(t)) if (!(FILE_KEYS as readonly string[]).includes(k)) problems.push({ field: `file.${k}`, rule: 'additionalProperties', message: `not a field of a release flow template (${FILE_KEYS.filter((x) => x !== 'project').join(', ')})` });
  if (t.spec === undefined || typeof t.spec !== 'object' || t.spec === null) problems.push({ field: 'file.spec', rule: 'required', message: "the template's spec: a Workflow node" });
  if (t.triggers !== undefined && !Array.isArray(t.triggers)) problems.push({ field: 'file.triggers', rule: 'type', message: 'an array of git triggers' });
  for (const k of ['arguments', 'options'] as const) if (t[k] !== undefined && (typeof t[k] !== 'object' || t[k] === null || Array.isArray(t[k]))) problems.push({ field: `file.${k}`, rule: 'type', message: 'an object' });
  if (problems.length) return { problems };
  const { gitops: _g, project: _p, ...rest } = t;
  return { template: { apiVersion: 'v1.2', ...rest }, problems };
}
