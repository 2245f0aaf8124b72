/**
 * A Podman Docker-compatible service for tests and benchmarks, started and stopped by the caller, and the
 * conformance image built on it `FROM scratch` with the static busybox (no registry is reachable here).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import * as tar from 'tar';
import { ROOT, stopChild } from './platform.ts';

export const PACKAGES = 'install the Debian packages podman runc busybox-static';
const BUSYBOX = '/bin/busybox';
export const IMAGE = 'localhost/slipway-conformance:test';

/** Whether a 64-bit little-endian ELF binary names a dynamic loader (a PT_INTERP program header). */
function hasInterpreter(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

export interface PodmanService {
  dockerHost: string;
  docker: Docker;
  /** containers.conf for plain `podman` commands run beside the service */
  confFile: string;
  stop(): Promise<void>;
}

export interface PodmanOptions {
  /**
   * Registries (`host:port`) reached over plain HTTP. Docker treats 127.0.0.0/8 registries as insecure by
   * default; Podman does not, so the service gets a registries.conf of its own (CONTAINERS_REGISTRIES_CONF,
   * in place of the machine's) marking these insecure. Without the option the service is started as before.
   */
  insecureRegistries?: string[];
}

/** Checks the packages, starts `podman system service` (runc, no default ulimits) and waits for it to answer. */
export async function startPodman(opts: PodmanOptions = {}): Promise<PodmanService> {
  for (const [what, check] of [
    ['podman', () => execFileSync('podman', ['--version'])],
    ['runc', () => execFileSync('runc', ['--version'])],
    ['busybox', () => execFileSync(BUSYBOX, ['true'])],
    // An image FROM scratch has no dynamic loader: only the static build will run in it.
    ['a static busybox', () => assert.ok(!hasInterpreter(fs.readFileSync(BUSYBOX)))],
  ] as const) {
    try {
      check();
    } catch {
      throw new Error(`${what} is missing: ${PACKAGES}`);
    }
  }
  // The Podman service: runc (crun fails on this machine's cgroups) and no default ulimits.
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-podman-'));
  const confFile = path.join(runDir, 'containers.conf');
  fs.writeFileSync(confFile, '[containers]\ndefault_ulimits = []\nlog_driver = "k8s-file"\n[engine]\nruntime = "runc"\n');
  const socket = path.join(runDir, 'podman.sock');
  const registriesEnv: Record<string, string> = {};
  if (opts.insecureRegistries?.length) {
    const registriesConf = path.join(runDir, 'registries.conf');
    fs.writeFileSync(registriesConf, opts.insecureRegistries.map((r) => `[[registry]]\nlocation = ${JSON.stringify(r)}\ninsecure = true\n`).join('\n'));
    registriesEnv.CONTAINERS_REGISTRIES_CONF = registriesConf;
  }
  const service: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env: { ...process.env, CONTAINERS_CONF: confFile, ...registriesEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serviceErr = '';
  service.stderr!.on('data', (d) => (serviceErr += d));
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (service.exitCode !== null) throw new Error(`podman system service exited (${service.exitCode}): ${serviceErr}`);
    const answered = docker.ping().then(() => true, () => false);
    if (await Promise.race([answered, new Promise<false>((r) => setTimeout(r, 2000, false))])) break;
    if (Date.now() > deadline) {
      // Stopped, so that it does not keep this test file running after its tests.
      service.kill('SIGKILL');
      fs.rmSync(runDir, { recursive: true, force: true });
      throw new Error(`podman system service did not answer on ${socket}: ${serviceErr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dockerHost: `unix://${socket}`,
    docker,
    confFile,
    async stop() {
      await stopChild(service);
      fs.rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** The conformance image: the fixture (Dockerfile + app) plus bin/busybox, a symlink per applet and /tmp. */
export async function buildConformanceImage(docker: Docker): Promise<number> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-image-'));
  try {
    fs.cpSync(path.join(ROOT, 'test/fixtures/images/conformance'), context, { recursive: true });
    fs.mkdirSync(path.join(context, 'bin'));
    fs.mkdirSync(path.join(context, 'tmp'), { mode: 0o1777 });
    fs.chmodSync(path.join(context, 'tmp'), 0o1777);
    fs.copyFileSync(BUSYBOX, path.join(context, 'bin/busybox'));
    fs.chmodSync(path.join(context, 'bin/busybox'), 0o755);
    for (const applet of execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter(Boolean)) {
      if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(context, 'bin', applet));
    }
    const built = Date.now();
    const stream = await docker.buildImage(tar.c({ cwd: context, portable: true }, ['.']) as unknown as NodeJS.ReadableStream, { t: IMAGE, rm: true });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        const failed = events?.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(`image build failed: ${failed!.error}`));
        else resolve();
      }),
    );
    return Date.now() - built;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

export const NODE_IMAGE = 'localhost/slipway-node:test';
const NODE_VERSION_LABEL = 'slipway.node-version';

/**
 * The artifact image for the docker runtime, `FROM scratch` (no registry is reachable here): this machine's
 * Node binary at /usr/local/bin/node with the shared libraries `ldd` names (each at its own path) and the
 * dynamic loader, the static busybox as /bin/sh with its applets, and /tmp. Reused when an image built for
 * the same Node version exists. Returns the build time in ms (0 when reused).
 */
export async function buildNodeImage(docker: Docker): Promise<number> {
  const version = `${process.version} ${process.execPath}`;
  const existing = await docker.getImage(NODE_IMAGE).inspect().catch(() => undefined);
  if (existing?.Config?.Labels?.[NODE_VERSION_LABEL] === version) return 0;
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-node-image-'));
  try {
    // `ldd` lines: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and `/lib64/ld-linux-x86-64.so.2 (0x…)`;
    // linux-vdso has no file. Each library is copied (symlinks followed) to the path the loader will look at.
    let ldd: string;
    try {
      ldd = execFileSync('ldd', [process.execPath]).toString();
    } catch {
      throw new Error('ldd is missing: install the Debian package libc-bin');
    }
    const libs = [...ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1]);
    assert.ok(libs.some((l) => /ld-linux/.test(l)), `no dynamic loader in the ldd output of ${process.execPath}:\n${ldd}`);
    for (const lib of libs) {
      fs.mkdirSync(path.join(context, path.dirname(lib)), { recursive: true });
      fs.copyFileSync(lib, path.join(context, lib));
      fs.chmodSync(path.join(context, lib), 0o755);
    }
    fs.mkdirSync(path.join(context, 'usr/local/bin'), { recursive: true });
    fs.copyFileSync(process.execPath, path.join(context, 'usr/local/bin/node'));
    fs.chmodSync(path.join(context, 'usr/local/bin/node'), 0o755);
    fs.mkdirSync(path.join(context, 'bin'));
    fs.copyFileSync(BUSYBOX, path.join(context, 'bin/busybox'));
    fs.chmodSync(path.join(context, 'bin/busybox'), 0o755);
    for (const applet of execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter(Boolean)) {
      if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(context, 'bin', applet));
    }
    fs.mkdirSync(path.join(context, 'tmp'), { mode: 0o1777 });
    fs.chmodSync(path.join(context, 'tmp'), 0o1777);
    fs.mkdirSync(path.join(context, 'app'));
    fs.writeFileSync(
      path.join(context, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY . /',
        'ENV PATH=/usr/local/bin:/usr/bin:/bin',
        'WORKDIR /app',
        `LABEL ${NODE_VERSION_LABEL}=${JSON.stringify(version)}`,
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    const built = Date.now();
    const stream = await docker.buildImage(tar.c({ cwd: context, portable: true }, ['.']) as unknown as NodeJS.ReadableStream, { t: NODE_IMAGE, rm: true });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        const failed = events?.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(`node image build failed: ${failed!.error}`));
        else resolve();
      }),
    );
    return Date.now() - built;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}
