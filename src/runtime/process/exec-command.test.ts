import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execPlainCommand } from './exec-command.ts';

describe('execPlainCommand', () => {
  it('execs a Procfile line that is one plain command', () => {
    assert.deepEqual(execPlainCommand(['/bin/sh', '-c', 'node server.js']), ['/bin/sh', '-c', 'exec node server.js']);
    assert.deepEqual(execPlainCommand(['/bin/sh', '-c', 'node --max-old-space-size=256 dist/main.js']), ['/bin/sh', '-c', 'exec node --max-old-space-size=256 dist/main.js']);
  });

  it('leaves every other line as written', () => {
    for (const line of ['PORT=1 node a.js', 'node a.js && echo done', 'node a.js > out', 'node $APP', "node 'a b.js'", 'cd app; node a.js', 'exec node a.js', 'node a.js &', 'node a.js | cat', 'node *.js', '~/bin/app', '. ./env', 'cd app', 'export A', 'wait', 'exit 3']) {
      assert.deepEqual(execPlainCommand(['/bin/sh', '-c', line]), ['/bin/sh', '-c', line], line);
    }
    assert.deepEqual(execPlainCommand(['node', 'server.js']), ['node', 'server.js']);
    assert.deepEqual(execPlainCommand(['/bin/bash', '-c', 'node a.js']), ['/bin/bash', '-c', 'node a.js']);
  });
});
