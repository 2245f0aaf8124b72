import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolveProcesses, shellQuote, type PackageManifest } from './start-command.ts';

const cases: { name: string; procfile?: string; pkg?: PackageManifest; files?: string[]; processes: Record<string, string> }[] = [
  { name: 'the Procfile wins over scripts.start', procfile: 'web: node a.js\nworker: node w.js', pkg: { scripts: { start: 'node b.js' } }, processes: { web: 'node a.js', worker: 'node w.js' } },
  { name: 'a Procfile without web falls back to scripts.start', procfile: 'worker: node w.js', pkg: { scripts: { start: 'node b.js' } }, processes: { worker: 'node w.js', web: 'node b.js' } },
  { name: 'scripts.start is used as written', pkg: { scripts: { start: 'next start -p $PORT' } }, processes: { web: 'next start -p $PORT' } },
  { name: 'main, when it exists', pkg: { main: 'dist/app.js' }, files: ['dist/app.js', 'index.js'], processes: { web: 'node dist/app.js' } },
  { name: 'main without its .js extension', pkg: { main: './lib/app' }, files: ['lib/app.js'], processes: { web: 'node lib/app.js' } },
  { name: 'main naming a directory', pkg: { main: 'lib' }, files: ['lib/index.js'], processes: { web: 'node lib/index.js' } },
  { name: 'a missing main falls back to server.js', pkg: { main: 'nope.js' }, files: ['server.js', 'index.js'], processes: { web: 'node server.js' } },
  { name: 'index.js when there is no server.js', pkg: {}, files: ['index.js'], processes: { web: 'node index.js' } },
  { name: 'a main outside the app is ignored', pkg: { main: '../../etc/x.js' }, files: ['../../etc/x.js'], processes: {} },
  { name: 'a main with shell characters is quoted', pkg: { main: "a b;rm -rf 'x'.js" }, files: ["a b;rm -rf 'x'.js"], processes: { web: `node 'a b;rm -rf '\\''x'\\''.js'` } },
  { name: 'nothing to start', pkg: { scripts: { build: 'tsc' } }, files: [], processes: {} },
  { name: 'a Procfile alone', procfile: 'web: ./bin/serve', processes: { web: './bin/serve' } },
];

for (const c of cases) {
  it(`start command: ${c.name}`, () => {
    const files = new Set(c.files ?? []);
    const resolved = resolveProcesses({ procfile: c.procfile, pkg: c.pkg, hasFile: (f) => files.has(f) });
    assert.deepEqual(resolved.processes, c.processes);
    assert.ok(resolved.notes.length > 0, 'says where web came from, or why there is none');
  });
}

it('shell quoting survives a round trip through sh', () => {
  for (const word of ['plain.js', 'with space.js', "it's.js", '$(touch /tmp/x)', 'a"b`c\\d']) {
    assert.equal(execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(word)}`]).toString(), word);
  }
});
