import { it } from 'node:test';
import assert from 'node:assert/strict';
import { portDns, portHosts } from './hosts.ts';

it('names a port P of service S in project J as P--S--J.<domain>', () => {
  assert.equal(portDns('localhost', 'my-app', 'web', 'p01'), 'p01--web--my-app.localhost');
});

it('routes the first public HTTP port also at S.J.<domain>, and custom domains', () => {
  assert.deepEqual(portHosts('example.test', 'j', 's', { name: 'p01', domains: ['App.Example.com'] }, true), ['app.example.com', 'p01--s--j.example.test', 's.j.example.test']);
  assert.deepEqual(portHosts('example.test', 'j', 's', { name: 'p02' }, false), ['p02--s--j.example.test']);
});

it('drops the default domain with disableNfDomain only when the port has custom domains', () => {
  assert.deepEqual(portHosts('d', 'j', 's', { name: 'p01', domains: ['a.com'], disableNfDomain: true }, true), ['a.com']);
  assert.deepEqual(portHosts('d', 'j', 's', { name: 'p01', disableNfDomain: true }, true), ['p01--s--j.d', 's.j.d']);
});
