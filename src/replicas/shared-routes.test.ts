import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeRoutes } from './shared-routes.ts';
import type { Route } from '../router/table.ts';

const route = (key: string, endpoints: [string, number][], extra: Partial<Route> = {}): Route => ({
  key,
  hosts: [`${key.split('/')[1]}.${key.split('/')[0]}.localhost`],
  project: key.split('/')[0]!,
  service: key.split('/')[1]!,
  portName: 'p01',
  protocol: 'HTTP',
  maintenance: false,
  endpoints: endpoints.map(([id, port]) => ({ id, host: '127.0.0.1', port, weight: 1 })),
  ...extra,
});

const cases: { name: string; tables: { version: number; routes: Route[] }[]; want: Route[] }[] = [
  { name: 'no tables: no routes', tables: [], want: [] },
  {
    name: 'routes of different services from two replicas: both served',
    tables: [
      { version: 1, routes: [route('a/web/p01', [['i1', 1001]])] },
      { version: 2, routes: [route('b/api/p01', [['i2', 1002]])] },
    ],
    want: [route('a/web/p01', [['i1', 1001]]), route('b/api/p01', [['i2', 1002]])],
  },
  {
    name: 'one route published by two replicas: the endpoints of both, the other fields of the newest',
    tables: [
      { version: 5, routes: [route('a/web/p01', [['i1', 1001]], { maintenance: true })] },
      { version: 9, routes: [route('a/web/p01', [['i2', 1002]])] },
    ],
    want: [route('a/web/p01', [['i2', 1002], ['i1', 1001]])],
  },
  {
    name: 'the same endpoint id in two tables: the newest publication wins, once',
    tables: [
      { version: 9, routes: [route('a/web/p01', [['i1', 2001]])] },
      { version: 3, routes: [route('a/web/p01', [['i1', 1001]])] },
    ],
    want: [route('a/web/p01', [['i1', 2001]])],
  },
  {
    name: 'internal sources: the union, sorted',
    tables: [
      { version: 1, routes: [route('a/web/p01', [], { internalSources: ['10.0.0.2'] })] },
      { version: 2, routes: [route('a/web/p01', [], { internalSources: ['10.0.0.1'] })] },
    ],
    want: [route('a/web/p01', [], { internalSources: ['10.0.0.1', '10.0.0.2'] })],
  },
];

for (const c of cases) {
  it(`merges routing tables of replicas: ${c.name}`, () => {
    assert.deepEqual(mergeRoutes(c.tables), c.want);
  });
}
