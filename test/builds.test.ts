/**
 * Builds from source with real git, real npm and the real sandbox: refs resolve to commits, a checkout
 * builds into an artifact that answers HTTP when run read-only at /app as the runtime runs it, `npm ci` +
 * `build` + prune work with real dependencies, failed and aborted builds leave nothing behind (no artifact,
 * no process), and source bundles are extracted safely or refused.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { checkoutGit, resolveGitRef } from '../src/builds/git-source.ts';
import { extractBundle } from '../src/builds/bundle-source.ts';
import { buildNodeApp, detectStack } from '../src/builds/node-build.ts';
import { bwrapArgs } from '../src/runtime/process/sandbox.ts';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../src/errors/errors.ts';
import { fixtureRepo, freePort } from './support/platform.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-builds-'));
const repos: string[] = [];
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const r of repos) fs.rmSync(r, { recursive: true, force: true });
});

/** A small app answering with its name, written into a fresh directory. */
function writeApp(name: string, files: Record<string, string | object>): string {
  const dir = path.join(tmp, name);
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const SERVER_JS = `require('node:http').createServer((q, s) => s.end(JSON.stringify({ message: 'hello', extra: process.env.EXTRA ?? null }))).listen(Number(process.env.PORT), '127.0.0.1');\n`;

/** Runs the artifact's web command the way the process runtime does: `sh -c` in the sandbox, artifact read-only at /app. */
async function runWeb(artifact: string, processes: Record<string, string>): Promise<any> {
  assert.ok(processes.web, 'a web process');
  const port = await freePort();
  const [bwrap, ...args] = bwrapArgs({ artifactDir: artifact, workDir: '/app', files: [] });
  const child = spawn(bwrap, [...args, '/bin/sh', '-c', processes.web], {
    env: { PATH: '/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', NODE_ENV: 'production', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  try {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const text = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => undefined);
      if (text) return JSON.parse(text);
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the artifact never answered: ${stderr}`);
  } finally {
    // The whole group: bwrap forks the shell, which forks the app.
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function leftovers(name: string): string[] {
  return fs.readdirSync(tmp).filter((f) => f === name || f.startsWith(`${name}.tmp-`));
}

describe('builds from git', () => {
  const repo = fixtureRepo('hello');
  repos.push(repo.dir);

  it('resolves a branch, a SHA and the default branch to the commit, and refuses what does not exist', async () => {
    const head = repo.head();
    assert.deepEqual(await resolveGitRef({ url: repo.dir, ref: 'main' }), { sha: head, branch: 'main' });
    assert.deepEqual(await resolveGitRef({ url: `file://${repo.dir}` }), { sha: head, branch: 'main' });
    assert.equal((await resolveGitRef({ url: `file://${repo.dir}`, ref: head })).sha, head);
    assert.equal((await resolveGitRef({ url: repo.dir, ref: head.toUpperCase() })).sha, head);
    await assert.rejects(resolveGitRef({ url: repo.dir, ref: 'no-such-branch' }), (err: Error) => err instanceof NotFoundError && /branch 'no-such-branch'/.test(err.message));
    await assert.rejects(resolveGitRef({ url: repo.dir, ref: 'f'.repeat(40) }), (err: Error) => err instanceof NotFoundError && /commit/.test(err.message));
    await assert.rejects(resolveGitRef({ url: repo.dir, ref: '--upload-pack=evil' }), ValidationError);
  });

  it('accepts only local repositories, naming vcsData.projectUrl when it refuses', async () => {
    for (const url of ['https://example.com/x.git', 'ssh://git@example.com/x.git', 'git@example.com:x/y.git', 'relative/path', '/no/such/repo', tmp]) {
      await assert.rejects(resolveGitRef({ url }), (err: Error) => err instanceof ValidationError && err.problems[0].field === 'vcsData.projectUrl', url);
    }
  });

  it('checks out exactly one commit, without its history, and builds an artifact that runs read-only at /app', async () => {
    const first = repo.head();
    const second = repo.commit('add a file', (d) => fs.writeFileSync(path.join(d, 'extra.txt'), 'second commit'));
    assert.notEqual(first, second);
    const src = path.join(tmp, 'co-first');
    const lines: string[] = [];
    await checkoutGit({ url: repo.dir, sha: first, dest: src, log: (l) => lines.push(l) });
    assert.equal(fs.existsSync(path.join(src, 'extra.txt')), false, 'the older commit, not the branch head');
    assert.equal(fs.existsSync(path.join(src, '.git')), false);
    assert.ok(fs.existsSync(path.join(src, 'Procfile')));
    assert.equal(await detectStack(src), 'node');

    const out = path.join(tmp, 'art-first');
    const built = await buildNodeApp({ sourceDir: src, outDir: out, log: (l) => lines.push(l) });
    assert.deepEqual(built.processes, { web: 'node server.js' });
    assert.match(built.nodeVersion, /^v\d+\.\d+\.\d+$/);
    assert.ok(lines.includes('-----> Installing dependencies (npm install)'), lines.join('\n'));
    assert.ok(lines.includes('-----> Pruning devDependencies (npm prune --omit=dev)'));
    const meta = fs.readFileSync(path.join(out, '.slipway/build.json'), 'utf8');
    assert.deepEqual(JSON.parse(meta).processes, built.processes);
    assert.ok(!meta.includes(tmp), 'no host path in the build record');
    assert.equal((await runWeb(out, built.processes)).message, 'hello');
  });

  it('refuses to check out a commit the repository does not have, leaving nothing', async () => {
    const dest = path.join(tmp, 'co-missing');
    await assert.rejects(checkoutGit({ url: repo.dir, sha: 'e'.repeat(40), dest }), NotFoundError);
    assert.equal(fs.existsSync(dest), false);
  });
});

describe('the Node build', () => {
  it('uses npm ci with a lockfile, runs the build script, and starts with scripts.start', async () => {
    const src = writeApp('app-build', {
      'package.json': { name: 'app-build', version: '1.0.0', scripts: { build: `node -e "require('fs').mkdirSync('dist'); require('fs').writeFileSync('dist/out.txt', 'made by build')"`, start: 'EXTRA=from-start node server.js' } },
      'package-lock.json': { name: 'app-build', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'app-build', version: '1.0.0' } } },
      'server.js': SERVER_JS,
    });
    const out = path.join(tmp, 'art-build');
    const lines: string[] = [];
    const built = await buildNodeApp({ sourceDir: src, outDir: out, log: (l) => lines.push(l) });
    assert.ok(lines.includes('-----> Installing dependencies (npm ci)'), lines.join('\n'));
    assert.ok(lines.includes('-----> Running build (npm run build)'));
    assert.equal(fs.readFileSync(path.join(out, 'dist/out.txt'), 'utf8'), 'made by build');
    assert.deepEqual(built.processes, { web: 'EXTRA=from-start node server.js' });
    assert.deepEqual(await runWeb(out, built.processes), { message: 'hello', extra: 'from-start' });
  });

  it('installs real dependencies from the lockfile, has dev dependencies at build time, and prunes them', async () => {
    const src = writeApp('app-deps', {
      'package.json': {
        name: 'app-deps',
        version: '1.0.0',
        main: 'index.js',
        scripts: { build: `node -e "require('fs').writeFileSync('built.txt', String(require('is-number')(42)))"` },
        dependencies: { ms: '2.1.3' },
        devDependencies: { 'is-number': '7.0.0' },
      },
      'index.js': `const ms = require('ms'); const fs = require('fs');\nrequire('node:http').createServer((q, s) => s.end(JSON.stringify({ twoDays: ms('2 days'), built: fs.readFileSync(__dirname + '/built.txt', 'utf8') }))).listen(Number(process.env.PORT), '127.0.0.1');\n`,
    });
    const cacheDir = path.join(tmp, 'npm-cache');
    execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: src, env: { ...process.env, npm_config_cache: cacheDir }, stdio: 'ignore' });
    assert.ok(fs.existsSync(path.join(src, 'package-lock.json')));

    const out = path.join(tmp, 'art-deps');
    const lines: string[] = [];
    const built = await buildNodeApp({ sourceDir: src, outDir: out, log: (l) => lines.push(l), cacheDir });
    assert.ok(lines.includes('-----> Installing dependencies (npm ci)'));
    assert.ok(lines.some((l) => /^added 2 packages/.test(l)), 'npm output reaches the log unprefixed');
    assert.deepEqual(built.processes, { web: 'node index.js' });
    assert.ok(fs.existsSync(path.join(out, 'node_modules/ms/package.json')));
    assert.equal(fs.existsSync(path.join(out, 'node_modules/is-number')), false, 'dev dependencies pruned');
    assert.deepEqual(await runWeb(out, built.processes), { twoDays: 172800000, built: 'true' });
  });

  it('builds an app with only a Procfile without running npm', async () => {
    const src = writeApp('app-procfile', { Procfile: '# no package.json here\nweb: EXTRA=procfile node server.js\nworker: node worker.js\n', 'server.js': SERVER_JS });
    const out = path.join(tmp, 'art-procfile');
    const lines: string[] = [];
    const built = await buildNodeApp({ sourceDir: src, outDir: out, log: (l) => lines.push(l) });
    assert.equal(built.stack, 'node');
    assert.deepEqual(built.processes, { web: 'EXTRA=procfile node server.js', worker: 'node worker.js' });
    assert.ok(!lines.some((l) => /npm/.test(l) && l.startsWith('-----> Installing')));
    assert.equal((await runWeb(out, built.processes)).extra, 'procfile');
  });

  it('fails a broken build naming the step and exit code, keeps its output in the log, and leaves no artifact', async () => {
    const src = writeApp('app-broken', { 'package.json': { name: 'broken', version: '1.0.0', scripts: { build: 'echo about to fail; exit 3', start: 'node x.js' } } });
    const lines: string[] = [];
    await assert.rejects(buildNodeApp({ sourceDir: src, outDir: path.join(tmp, 'art-broken'), log: (l) => lines.push(l) }), /Running build \(npm run build\) failed with exit code 3/);
    assert.ok(lines.includes('about to fail'), lines.join('\n'));
    assert.deepEqual(leftovers('art-broken'), []);
  });

  it('refuses a source that is neither a Node app nor has a Procfile', async () => {
    const src = writeApp('app-none', { 'README.md': 'nothing to run' });
    assert.equal(await detectStack(src), 'unknown');
    await assert.rejects(buildNodeApp({ sourceDir: src, outDir: path.join(tmp, 'art-none'), log: () => {} }), /neither a package.json nor a Procfile/);
    assert.deepEqual(leftovers('art-none'), []);
  });

  it('does not hang on a build script that leaves a process behind, and ends that process', async () => {
    const pidFile = path.join(tmp, 'bg.pid');
    const src = writeApp('app-bg', { 'package.json': { name: 'bg', version: '1.0.0', scripts: { build: 'sleep 300 & echo $! > "$PID_FILE"; echo started', start: 'node server.js' } }, 'server.js': SERVER_JS });
    const built = await buildNodeApp({ sourceDir: src, outDir: path.join(tmp, 'art-bg'), log: () => {}, env: { PID_FILE: pidFile } });
    assert.equal(built.processes.web, 'node server.js');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await waitFor('the background process to end', () => !isAlive(pid));
  });

  it('stops an aborted build with every process it started, and leaves no artifact', async () => {
    const pidFile = path.join(tmp, 'abort.pid');
    const src = writeApp('app-abort', {
      'package.json': { name: 'abort', version: '1.0.0', scripts: { build: `node -e "require('fs').writeFileSync(process.env.PID_FILE, String(process.pid)); setInterval(() => {}, 1000)"` } },
    });
    const ac = new AbortController();
    const building = buildNodeApp({ sourceDir: src, outDir: path.join(tmp, 'art-abort'), log: () => {}, signal: ac.signal, env: { PID_FILE: pidFile } });
    let pid = 0;
    try {
      await waitFor('the build script to start', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').length > 0, 60_000);
      pid = Number(fs.readFileSync(pidFile, 'utf8'));
      ac.abort();
      await assert.rejects(building, { name: 'AbortError' });
      await waitFor('the build script to be killed', () => !isAlive(pid));
      assert.deepEqual(leftovers('art-abort'), []);
    } finally {
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      ac.abort();
      await building.catch(() => {});
    }
  });

  it('refuses to build over an existing artifact', async () => {
    const out = path.join(tmp, 'art-exists');
    fs.mkdirSync(out);
    await assert.rejects(buildNodeApp({ sourceDir: writeApp('app-exists', { Procfile: 'web: node x.js' }), outDir: out, log: () => {} }), /already exists/);
  });
});

/** A .tar.gz made with python's tarfile, which writes whatever hostile entry we describe. */
function pythonTarball(name: string, body: string): string {
  const file = path.join(tmp, `${name}.tar.gz`);
  execFileSync('python3', ['-c', `import tarfile, io\nt = tarfile.open(${JSON.stringify(file)}, 'w:gz')\ndef add(n, data=b''):\n  i = tarfile.TarInfo(n); i.size = len(data); t.addfile(i, io.BytesIO(data))\nadd('ok.txt', b'fine')\n${body}\nt.close()`]);
  return file;
}

describe('source bundles', () => {
  it('extracts a bundle made with tar, stripping its single top directory, and builds it', async () => {
    const parent = path.join(tmp, 'bundle-src');
    writeApp('bundle-src/app-main', { Procfile: 'web: node server.js', 'server.js': SERVER_JS, 'lib/x.js': '' });
    const file = path.join(tmp, 'app.tar.gz');
    await tar.c({ gzip: true, file, cwd: parent }, ['app-main']);
    const dest = path.join(tmp, 'bundle-out');
    const { sha256 } = await extractBundle({ source: file, dest });
    assert.equal(sha256, crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    assert.deepEqual(fs.readdirSync(dest).sort(), ['Procfile', 'lib', 'server.js']);
    const built = await buildNodeApp({ sourceDir: dest, outDir: path.join(tmp, 'art-bundle'), log: () => {} });
    assert.equal((await runWeb(path.join(tmp, 'art-bundle'), built.processes)).message, 'hello');
  });

  it('extracts a GitHub-style archive (git archive with a prefix) from memory, keeping relative symlinks', async () => {
    const repo = fixtureRepo('hello');
    repos.push(repo.dir);
    const sha = repo.commit('add a relative symlink', (d) => {
      fs.mkdirSync(path.join(d, 'docs'));
      fs.writeFileSync(path.join(d, 'docs/guide.md'), 'guide');
      fs.symlinkSync('docs/guide.md', path.join(d, 'GUIDE.md'));
    });
    const bundle = execFileSync('git', ['-C', repo.dir, 'archive', '--format=tar.gz', `--prefix=hello-${sha.slice(0, 7)}/`, sha]);
    const dest = path.join(tmp, 'github-out');
    const { sha256 } = await extractBundle({ source: bundle, dest });
    assert.equal(sha256, crypto.createHash('sha256').update(bundle).digest('hex'));
    assert.ok(fs.existsSync(path.join(dest, 'server.js')));
    assert.equal(fs.readlinkSync(path.join(dest, 'GUIDE.md')), 'docs/guide.md');
    assert.equal(fs.readFileSync(path.join(dest, 'GUIDE.md'), 'utf8'), 'guide');
  });

  const hostile: { name: string; py: string }[] = [
    { name: 'a ../ path', py: "add('../evil.txt', b'evil')" },
    { name: 'an absolute path', py: `add(${JSON.stringify(path.join(tmp, 'evil-abs.txt'))}, b'evil')` },
    { name: 'a symlink to /etc', py: "i = tarfile.TarInfo('etc'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; t.addfile(i)" },
    { name: 'a symlink climbing out', py: "i = tarfile.TarInfo('a/up'); i.type = tarfile.SYMTYPE; i.linkname = '../../..'; t.addfile(i)" },
    { name: 'a hard link to a host file', py: "i = tarfile.TarInfo('passwd'); i.type = tarfile.LNKTYPE; i.linkname = '/etc/passwd'; t.addfile(i)" },
    { name: 'a device file', py: "i = tarfile.TarInfo('null'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; t.addfile(i)" },
    { name: 'a file written through a symlink', py: "i = tarfile.TarInfo('out'); i.type = tarfile.SYMTYPE; i.linkname = 'sub'; t.addfile(i)\nadd('sub/keep.txt')\nadd('out/evil.txt', b'evil')" },
    // Each link alone stays inside; followed together they climb above the tree.
    { name: 'a chain of symlinks that escapes', py: "i = tarfile.TarInfo('p/q'); i.type = tarfile.SYMTYPE; i.linkname = '..'; t.addfile(i)\ni = tarfile.TarInfo('t'); i.type = tarfile.SYMTYPE; i.linkname = 'p/q/..'; t.addfile(i)" },
  ];
  for (const h of hostile) {
    it(`refuses a bundle with ${h.name}, writing nothing`, async () => {
      const slug = h.name.replace(/\W+/g, '-');
      const file = pythonTarball(`hostile-${slug}`, h.py);
      const dest = path.join(tmp, 'hostile-out', slug);
      await assert.rejects(extractBundle({ source: file, dest }), (err: Error) => err instanceof ValidationError && err.problems[0].field === 'bundle');
      assert.equal(fs.existsSync(dest), false);
      assert.equal(fs.existsSync(path.join(tmp, 'hostile-out', 'evil.txt')), false);
      assert.equal(fs.existsSync(path.join(tmp, 'evil-abs.txt')), false);
    });
  }

  it('refuses bundles past the size and entry limits, and what is not a .tar.gz', async () => {
    const src = writeApp('big', { 'big.bin': crypto.randomBytes(2 * 1024 * 1024).toString('base64') });
    const big = path.join(tmp, 'big.tar.gz');
    await tar.c({ gzip: true, file: big, cwd: src }, ['big.bin']);
    await assert.rejects(extractBundle({ source: big, dest: path.join(tmp, 'big-out'), maxBytes: 1024 * 1024 }), (err: Error) => err instanceof PayloadTooLargeError && /more than 1048576 bytes/.test(err.message));
    assert.equal(fs.existsSync(path.join(tmp, 'big-out')), false);

    const many = pythonTarball('many', "for n in range(20): add(f'f{n}.txt')");
    await assert.rejects(extractBundle({ source: many, dest: path.join(tmp, 'many-out'), maxFiles: 10 }), (err: Error) => err instanceof PayloadTooLargeError && /more than 10 entries/.test(err.message));
    assert.ok(await extractBundle({ source: many, dest: path.join(tmp, 'many-ok'), maxFiles: 21 }));

    await assert.rejects(extractBundle({ source: Buffer.from('not a tarball'), dest: path.join(tmp, 'garbage-out') }), ValidationError);
    const truncated = fs.readFileSync(many).subarray(0, 60);
    await assert.rejects(extractBundle({ source: truncated, dest: path.join(tmp, 'truncated-out') }), ValidationError);
    assert.equal(fs.existsSync(path.join(tmp, 'truncated-out')), false);
  });
});
