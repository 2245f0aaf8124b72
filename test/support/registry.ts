/**
 * A container registry for tests: Debian's docker-registry on 127.0.0.1, plain HTTP, filesystem storage in a
 * temporary directory, with users checked by htpasswd (Basic auth), or by a token service as Docker Hub and
 * most hosted registries do (Bearer: the test runs the token service, which signs JWTs the registry checks
 * against its certificate), or none (anyone may pull and push); and the helpers to push an image the engine
 * holds into it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { StopWaiting, freePort, stopChild, waitFor } from './platform.ts';

const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  address: string;
  /** the storage root: copy it into another registry's `dataFrom` to serve the same images */
  dataDir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** users (name → password); none: no authentication */
  users?: Record<string, string>;
  /** how users sign in: Basic against htpasswd (default), or Bearer tokens from a token service */
  auth?: 'htpasswd' | 'token';
  /** listen on this port (default: a free one) */
  port?: number;
  /** start with a copy of another registry's storage (its `dataDir`) */
  dataFrom?: string;
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  if (!fs.existsSync(REGISTRY_BIN)) throw new Error('docker-registry is missing: install the Debian package docker-registry');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-registry-'));
  const dataDir = path.join(dir, 'data');
  if (opts.dataFrom) fs.cpSync(opts.dataFrom, dataDir, { recursive: true });
  const users = Object.entries(opts.users ?? {});
  let tokens: http.Server | undefined;
  let authConfig: string[] = [];
  if (users.length && opts.auth === 'token') {
    const started = await startTokenService(dir, Object.fromEntries(users));
    tokens = started.server;
    authConfig = ['auth:', '  token:', `    realm: ${started.realm}`, `    service: ${TOKEN_SERVICE}`, `    issuer: ${TOKEN_ISSUER}`, `    rootcertbundle: ${started.certFile}`];
  } else if (users.length) {
    let lines: string[];
    try {
      lines = users.map(([u, pw]) => execFileSync('htpasswd', ['-Bbn', u, pw]).toString().trim());
    } catch {
      throw new Error('htpasswd is missing: install the Debian package apache2-utils');
    }
    fs.writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authConfig = ['auth:', '  htpasswd:', '    realm: slipway-test', `    path: ${path.join(dir, 'htpasswd')}`];
  }
  // A registry that does not answer in time is stopped and started again on another port (a port can be taken
  // between the check and the bind by a program outside this run); its own output is in the error.
  const failures: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const address = `127.0.0.1:${opts.port ?? (await freePort())}`;
    const started = await serveRegistry(dir, dataDir, address, authConfig, users.length > 0);
    if ('proc' in started) {
      const proc = started.proc;
      return {
        address,
        dataDir,
        async stop() {
          await stopChild(proc);
          if (tokens) await new Promise((r) => tokens.close(r));
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    failures.push(`${address}: ${started.failure}`);
    if (attempt === 3 || opts.port) {
      if (tokens) await new Promise((r) => tokens.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not answer /v2/ (${attempt} tries):\n${failures.join('\n')}`);
    }
  }
}

/** Runs the registry on `address` until it answers `/v2/` as configured; on failure it is stopped and the reason given. */
async function serveRegistry(dir: string, dataDir: string, address: string, authConfig: string[], withUsers: boolean): Promise<{ proc: ChildProcess } | { failure: string }> {
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dataDir}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}`,
      ...authConfig,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  let last = 'no answer';
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new StopWaiting(`exited (${proc.exitCode ?? proc.signalCode})`);
      const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(2000) }).catch((e: Error) => {
        last = e.message;
        return undefined;
      });
      if (res) last = `answered ${res.status}`;
      return res?.status === (withUsers ? 401 : 200); // up (and asking for credentials when it has users)
    }, 20_000, 'registry answering /v2/');
    return { proc };
  } catch (e) {
    await stopChild(proc);
    return { failure: `${(e as Error).message}; last probe: ${last}; its output: ${err.trim().slice(-2000) || '(none)'}` };
  }
}

const TOKEN_SERVICE = 'slipway-test-registry';
const TOKEN_ISSUER = 'slipway-test-token-service';

/**
 * A token service as Docker's token authentication specifies: `GET /token?service=…&scope=repository:<name>:<actions>`
 * with Basic credentials answers a JWT (RS256, the signing certificate in its `x5c` header) granting the asked
 * actions to a known user; wrong credentials get 401; no credentials get a token granting nothing.
 */
async function startTokenService(dir: string, users: Record<string, string>): Promise<{ server: http.Server; realm: string; certFile: string }> {
  const keyFile = path.join(dir, 'token-key.pem');
  const certFile = path.join(dir, 'token-cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=slipway-test-token'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is missing: install the Debian package openssl');
  }
  const key = fs.readFileSync(keyFile);
  const certDer = fs.readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const [scheme, value] = (req.headers.authorization ?? '').split(' ');
    let user: string | undefined;
    if (scheme === 'Basic' && value) {
      const [name, ...rest] = Buffer.from(value, 'base64').toString().split(':');
      if (users[name] !== rest.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
        return;
      }
      user = name;
    }
    const access = user
      ? url.searchParams.getAll('scope').flatMap((scope) => {
          const [type, name, actions] = scope.split(':');
          return type === 'repository' && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: TOKEN_ISSUER, sub: user ?? '', aud: url.searchParams.get('service') ?? TOKEN_SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
    const signingInput = `${b64url({ typ: 'JWT', alg: 'RS256', x5c: [certDer] })}.${b64url(claims)}`;
    const token = `${signingInput}.${crypto.sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, realm: `http://127.0.0.1:${port}/token`, certFile };
}

/** Follow an engine progress stream (push, pull) to its end; an error event rejects. */
export async function followProgress(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, events: { error?: string; errorDetail?: { message?: string } }[]) => {
      const failed = events?.find((e) => e.error || e.errorDetail);
      if (err || failed) reject(err ?? new Error(`${what} failed: ${failed!.errorDetail?.message ?? failed!.error}`));
      else resolve();
    }),
  );
}

/** Push `source` (an image the engine holds) as `repo:tag`, then drop that tag from the engine so a deploy must pull it. */
export async function pushImage(docker: Docker, source: string, repo: string, tag: string, authconfig?: { username: string; password: string; serveraddress: string }): Promise<void> {
  await docker.getImage(source).tag({ repo, tag });
  await followProgress(docker, (await docker.getImage(`${repo}:${tag}`).push((authconfig ? { authconfig } : {}) as never)) as unknown as NodeJS.ReadableStream, `push ${repo}:${tag}`);
  await docker.getImage(`${repo}:${tag}`).remove();
}
