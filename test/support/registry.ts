/**
 * A container registry for tests: Debian's docker-registry on 127.0.0.1, plain HTTP, filesystem storage in a
 * temporary directory, with htpasswd users (or none: anyone may pull and push), and the helpers to push an
 * image the engine holds into it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { freePort, waitFor } from './platform.ts';

const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  address: string;
  /** the storage root: copy it into another registry's `dataFrom` to serve the same images */
  dataDir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** htpasswd users (name → password); none: no authentication */
  users?: Record<string, string>;
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
  if (users.length) {
    let lines: string[];
    try {
      lines = users.map(([u, pw]) => execFileSync('htpasswd', ['-Bbn', u, pw]).toString().trim());
    } catch {
      throw new Error('htpasswd is missing: install the Debian package apache2-utils');
    }
    fs.writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
  }
  const address = `127.0.0.1:${opts.port ?? (await freePort())}`;
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
      ...(users.length ? ['auth:', '  htpasswd:', '    realm: slipway-test', `    path: ${path.join(dir, 'htpasswd')}`] : []),
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}): ${err}`);
    const res = await fetch(`http://${address}/v2/`).catch(() => undefined);
    return res?.status === (users.length ? 401 : 200); // up (and asking for credentials when it has users)
  }, 20_000, 'registry answering /v2/');
  return {
    address,
    dataDir,
    async stop() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
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
