/**
 * Repositories slipway hosts itself, pushed to over smart HTTP at `/git/{project}/{service}.git`. A service
 * names one as its `vcsData.projectUrl` by that URL (any host: the path decides); on disk it is a bare
 * repository `<data dir>/git/{project}/{service}.git`, created the first time it is named.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const HOSTED_PATH = /^\/git\/([a-z0-9][a-z0-9-]{0,99})\/([a-z0-9][a-z0-9-]{0,99})\.git\/?$/;
let root: string | undefined;

/** Called once by the composition root: where hosted repositories live. */
export function configureHostedRepos(dir: string): void {
  root = dir;
}

/** The project and service a hosted-repository URL names, or undefined for any other URL. */
export function parseHostedUrl(url: string): { projectId: string; serviceId: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const m = HOSTED_PATH.exec(u.pathname);
  return m ? { projectId: m[1], serviceId: m[2] } : undefined;
}

/** The bare repository's directory, created (empty, accepting pushes) if it does not exist yet. */
export function hostedRepoDir(projectId: string, serviceId: string): string {
  if (!root) throw new Error('hosted repositories are not configured');
  const dir = path.join(root, projectId, `${serviceId}.git`);
  if (!fs.existsSync(path.join(dir, 'HEAD'))) {
    fs.mkdirSync(dir, { recursive: true });
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', HOME: root };
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir], { env, stdio: 'ignore' });
    execFileSync('git', ['-C', dir, 'config', 'http.receivepack', 'true'], { env, stdio: 'ignore' });
  }
  return dir;
}

/** The local directory of a hosted-repository URL, if it is one. */
export function hostedRepoPath(url: string): string | undefined {
  const h = parseHostedUrl(url);
  return h && root ? hostedRepoDir(h.projectId, h.serviceId) : undefined;
}
