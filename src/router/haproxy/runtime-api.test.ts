import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseServerLoad } from './runtime-api.ts';

it('parseServerLoad sums current and queued sessions per server from `show stat` rows, skipping other rows', () => {
  const header = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight';
  const row = (px: string, sv: string, qcur: number, scur: number) => `${px},${sv},${qcur},0,${scur},9,,120,0,0,,0,,0,0,0,0,UP,1`;
  const csv = [header, row('be_a', 's1', 1, 2), row('be_a', 's2', 0, 0), row('be_a', 'BACKEND', 5, 5), 'No such proxy.', '', row('be_b', 's1', 0, 3)].join('\n');
  assert.deepEqual(
    [...parseServerLoad(csv)],
    [
      ['be_a/s1', 3],
      ['be_a/s2', 0],
      ['be_b/s1', 3],
    ],
  );
  assert.equal(parseServerLoad('No such proxy.\n').size, 0);
});
