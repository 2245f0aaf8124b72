/**
 * Addon server images for the docker runtime in tests, built `FROM scratch` from this machine's Debian
 * binaries (no public registry is reachable here): the server's files at the paths Debian installs them,
 * every shared library `ldd` names for them, the static busybox as /bin/sh with its applets, /tmp, and an
 * /etc/passwd and /etc/group naming the addon server's user (initdb refuses a uid without a name).
 * Loaded straight into the Podman service's image store; reused while the label of their content matches.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import * as tar from 'tar';
import { ensureServerUser } from '../../src/addons/server-user.ts';

const BUSYBOX = '/bin/busybox';
const CONTENT_LABEL = 'slipway.addon-image-content';

export const ADDON_IMAGES = {
  postgresql: 'localhost/slipway-addon-postgresql:test',
  mysql: 'localhost/slipway-addon-mysql:test',
  redis: 'localhost/slipway-addon-redis:test',
} as const;

function pgMajor(): string {
  const majors = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  if (!majors.length) throw new Error('PostgreSQL is not installed: install the Debian package postgresql');
  return majors[0];
}

/** What each image holds: host paths (files or folders) copied to the same path. */
function contents(type: keyof typeof ADDON_IMAGES): string[] {
  switch (type) {
    case 'postgresql': {
      const m = pgMajor();
      return [`/usr/lib/postgresql/${m}/bin`, `/usr/lib/postgresql/${m}/lib`, `/usr/share/postgresql/${m}`, '/usr/share/zoneinfo'];
    }
    case 'mysql':
      return ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db', '/usr/bin/my_print_defaults', '/usr/bin/resolveip', '/usr/share/mysql'];
    case 'redis':
      return ['/usr/bin/redis-server'];
  }
}

function isElf(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 0);
    fs.closeSync(fd);
    return b.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

function walk(p: string, out: string[]): void {
  const st = fs.statSync(p);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e), out);
  else if (st.isFile()) out.push(p);
}

/** Build the image of one addon type (or reuse it). Returns the build time in ms (0 when reused). */
export async function buildAddonImage(docker: Docker, type: keyof typeof ADDON_IMAGES): Promise<number> {
  // The server's user must exist before the image names it.
  const user = ensureServerUser();
  const files: string[] = [];
  for (const p of contents(type)) {
    if (!fs.existsSync(p)) throw new Error(`${p} is missing: install the Debian packages postgresql, mariadb-server, redis-server`);
    walk(p, files);
  }
  // JIT code (LLVM, hundreds of MB) is never needed by these tests' servers.
  const wanted = files.filter((f) => !/llvmjit|\/bitcode\//.test(f));
  const libs = new Set<string>();
  for (const f of wanted) {
    if (!isElf(f)) continue;
    let out = '';
    try {
      out = execFileSync('ldd', [f], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      continue; // not dynamic
    }
    for (const m of out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)) libs.add(m[1]);
  }
  const all = [...new Set([...wanted, ...libs])].sort();
  const passwd = `root:x:0:0:root:/root:/bin/sh\n${user.name}:x:${user.uid}:${user.gid}::/nonexistent:/bin/sh\n`;
  const group = `root:x:0:\n${user.name}:x:${user.gid}:\n`;
  const hash = crypto.createHash('sha256').update(JSON.stringify([all, all.map((f) => fs.statSync(f).size), passwd, group])).digest('hex').slice(0, 16);
  const image = ADDON_IMAGES[type];
  const existing = await docker.getImage(image).inspect().catch(() => undefined);
  if (existing?.Config?.Labels?.[CONTENT_LABEL] === hash) return 0;

  const context = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-addon-image-${type}-`));
  try {
    for (const f of all) {
      const to = path.join(context, f);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f, to); // symlinks followed
      fs.chmodSync(to, fs.statSync(f).mode & 0o777);
    }
    fs.mkdirSync(path.join(context, 'bin'), { recursive: true });
    fs.copyFileSync(BUSYBOX, path.join(context, 'bin/busybox'));
    fs.chmodSync(path.join(context, 'bin/busybox'), 0o755);
    for (const applet of execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter(Boolean)) {
      const at = path.join(context, 'bin', applet);
      if (applet !== 'busybox' && !fs.existsSync(at)) fs.symlinkSync('busybox', at);
    }
    // No /data: the engine would copy its mode onto the data volume mounted there (which stays 0700).
    fs.mkdirSync(path.join(context, 'tmp'), { mode: 0o1777 });
    fs.chmodSync(path.join(context, 'tmp'), 0o1777);
    fs.mkdirSync(path.join(context, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(context, 'etc/passwd'), passwd);
    fs.writeFileSync(path.join(context, 'etc/group'), group);
    fs.writeFileSync(path.join(context, 'Dockerfile'), ['FROM scratch', 'COPY . /', 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', `LABEL ${CONTENT_LABEL}=${hash}`, ''].join('\n'));
    const built = Date.now();
    const stream = await docker.buildImage(tar.c({ cwd: context, portable: true }, ['.']) as unknown as NodeJS.ReadableStream, { t: image, rm: true });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        const failed = events?.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(`${type} image build failed: ${failed!.error}`));
        else resolve();
      }),
    );
    return Date.now() - built;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

/** The platform's environment for addons on the docker runtime with these images. */
export function addonImageEnv(): Record<string, string> {
  return {
    SLIPWAY_ADDON_IMAGE_POSTGRESQL: ADDON_IMAGES.postgresql,
    SLIPWAY_ADDON_IMAGE_MYSQL: ADDON_IMAGES.mysql,
    SLIPWAY_ADDON_IMAGE_REDIS: ADDON_IMAGES.redis,
  };
}
