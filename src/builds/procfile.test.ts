import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcfile } from './procfile.ts';

const cases: { name: string; text: string; processes: Record<string, string>; problemLines?: number[] }[] = [
  { name: 'one web process', text: 'web: node server.js\n', processes: { web: 'node server.js' } },
  { name: 'no space after the colon, CRLF endings', text: 'web:node a.js\r\nworker:  node w.js --x=1\r\n', processes: { web: 'node a.js', worker: 'node w.js --x=1' } },
  { name: 'comments and blank lines', text: '# the app\n\n  \nweb: node s.js # not a comment\n', processes: { web: 'node s.js # not a comment' } },
  { name: 'colons inside the command', text: 'web: node s.js --listen=0.0.0.0:$PORT\n', processes: { web: 'node s.js --listen=0.0.0.0:$PORT' } },
  { name: 'underscores, dashes and digits in type names', text: 'release_task-2: node migrate.js\n', processes: { 'release_task-2': 'node migrate.js' } },
  { name: 'a line without a colon is reported', text: 'web node server.js\nworker: node w.js\n', processes: { worker: 'node w.js' }, problemLines: [1] },
  { name: 'a bad type name is reported', text: 'bad type!: x\nweb: node s.js\n', processes: { web: 'node s.js' }, problemLines: [1] },
  { name: 'an empty command is reported', text: 'web:\n', processes: {}, problemLines: [1] },
  { name: 'a repeated type: the last one wins, and it is reported', text: 'web: node a.js\nweb: node b.js\n', processes: { web: 'node b.js' }, problemLines: [2] },
  { name: 'an empty file', text: '', processes: {} },
];

for (const c of cases) {
  it(`Procfile: ${c.name}`, () => {
    const parsed = parseProcfile(c.text);
    assert.deepEqual(parsed.processes, c.processes);
    assert.deepEqual(
      parsed.problems.map((p) => p.line),
      c.problemLines ?? [],
    );
  });
}
