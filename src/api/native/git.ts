/**
 * Git over smart HTTP for the repositories slipway hosts (`git push http://<api>/git/{project}/{service}.git`,
 * the API token as the password), served by git's own `http-backend`. A push to the branch the service
 * watches builds that commit; with continuous deployment on, the build rolls out. Also the CD switch and
 * the manual deploy of a build, which turns CD off (as in the release guide).
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api, ApiDeps } from '../deps.ts';
import { hostedRepoDir, parseHostedUrl } from '../../builds/hosted-repos.ts';
import { ConflictError, ValidationError } from '../../errors/errors.ts';

const GitParams = Type.Object({ project: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,99}$' }), repo: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,99}\\.git$' }), '*': Type.String({ maxLength: 200 }) });
const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });
const SERVICES = new Set(['/info/refs', '/git-upload-pack', '/git-receive-pack', '/HEAD']);
let backend: string | undefined;
/** git's own smart-HTTP CGI, from the installed git's exec path. */
function httpBackend(): string {
  backend ??= path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  return backend;
}

export function registerGit(app: Api, deps: ApiDeps): void {
  const { auth, store, builds, deploys } = deps;

  // git's request bodies go to http-backend untouched (it also undoes their gzip).
  app.addContentTypeParser(['application/x-git-upload-pack-request', 'application/x-git-receive-pack-request'], (_req, payload, done) => done(null, payload));

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const { project, repo, '*': rest } = req.params as { project: string; repo: string; '*': string };
    const serviceId = repo.slice(0, -'.git'.length);
    const pathInfo = `/${rest}`;
    if (!SERVICES.has(pathInfo)) throw ValidationError.one('path', 'gitSmartHttp', 'only the smart HTTP protocol is served here');
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const push = pathInfo === '/git-receive-pack' || new URLSearchParams(query).get('service') === 'git-receive-pack';
    auth.authorize(req.principal, project, push ? 'write' : 'read');
    const svc = await store.services.get(project, serviceId);
    if (svc.kind === 'deployment') throw ValidationError.one('service', 'buildable', `'${serviceId}' is a deployment service: push to its build service`);
    const watched = svc.spec.vcsData?.projectUrl ? parseHostedUrl(svc.spec.vcsData.projectUrl) : undefined;
    if (!watched || watched.projectId !== project || watched.serviceId !== serviceId) {
      throw new ConflictError(`service '${serviceId}' builds from ${svc.spec.vcsData?.projectUrl ?? 'no repository'}: set its vcsData.projectUrl to this URL to push here`);
    }
    const dir = hostedRepoDir(project, serviceId);

    reply.hijack();
    const res = reply.raw;
    const cgi = spawn(httpBackend(), [], {
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: path.dirname(dir),
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_PROJECT_ROOT: path.dirname(dir),
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: `/${repo}${pathInfo}`,
        REQUEST_METHOD: req.method,
        QUERY_STRING: query,
        CONTENT_TYPE: String(req.headers['content-type'] ?? ''),
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: String(req.headers['content-length']) } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        REMOTE_USER: req.principal.tokenId,
        REMOTE_ADDR: req.ip,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const body = req.body as NodeJS.ReadableStream | undefined;
    if (body && typeof body.pipe === 'function') body.pipe(cgi.stdin);
    else cgi.stdin.end();
    let stderr = '';
    cgi.stderr.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));

    // CGI output: headers (with an optional Status line), a blank line, then the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
      if (end < 0) return;
      const sep = end === crlf ? 4 : 2;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
        else headers[name] = value;
      }
      headersDone = true;
      res.writeHead(status, headers);
      res.write(head.subarray(end + sep));
    });
    cgi.on('close', (code) => {
      if (!headersDone) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('git http-backend failed\n');
      } else res.end();
      if (code !== 0) req.log.warn({ code, stderr, repo: `${project}/${repo}` }, 'git http-backend failed');
      if (code === 0 && pathInfo === '/git-receive-pack') {
        // A push: build what the watched branch now points at (a cached commit is not built twice).
        void builds.buildBranchHead(project, serviceId).catch((err: Error) => req.log.warn({ err: err.message, service: `${project}/${serviceId}` }, 'build after push failed to start'));
        // …and run the release flows whose git triggers watch this repository.
        void deps.flows?.triggers.onPush(project, serviceId);
      }
    });
  };
  app.get('/git/:project/:repo/*', { schema: { hide: true, params: GitParams } }, serve);
  app.post('/git/:project/:repo/*', { schema: { hide: true, params: GitParams } }, serve);

  // Continuous deployment: on, a service runs the newest successful build of what it follows; a manual
  // deploy pins one build and turns it off until it is switched on again.
  app.get('/projects/:projectId/services/:serviceId/cd', { schema: { tags: ['builds'], summary: 'Whether new builds deploy by themselves', params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return deploys.continuousDeployment(req.principal, projectId, serviceId);
  });
  app.put(
    '/projects/:projectId/services/:serviceId/cd',
    { schema: { tags: ['builds'], summary: 'Turn continuous deployment on or off', params: ServiceParams, body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }) } },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      return deploys.setContinuousDeployment(req.principal, projectId, serviceId, (req.body as { enabled: boolean }).enabled);
    },
  );
  app.post(
    '/projects/:projectId/services/:serviceId/deploy',
    { schema: { tags: ['builds'], summary: 'Deploy one build by hand (turns continuous deployment off)', params: ServiceParams, body: Type.Object({ buildId: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }) } },
    async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      return deploys.deployBuild(req.principal, projectId, serviceId, (req.body as { buildId: string }).buildId);
    },
  );
}
