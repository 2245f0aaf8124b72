import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appliesTo, defaultLinkName, flatten, groupProblems, inheritFrom, type GroupTarget, type Restrictions, type SecretGroupRecord, type SecretGroupSpec } from './secret-group.ts';

const open: Restrictions = { restricted: false, nfObjects: [], tags: [], tagMatchCondition: 'or' };
const spec = (over: Partial<SecretGroupSpec> = {}): SecretGroupSpec => ({ name: 'g', type: 'secret', secretType: 'environment', priority: 10, tags: [], restrictions: open, addonDependencies: [], externalAddonDependencies: [], ...over });
const web: GroupTarget = { type: 'service', id: 'web', tags: ['production', 'eu'] };

describe('which resources a group applies to', () => {
  const cases: { name: string; restrictions: Restrictions; target: GroupTarget; applies: boolean }[] = [
    { name: 'an unrestricted group applies to every service', restrictions: open, target: web, applies: true },
    { name: 'an unrestricted group applies to every job', restrictions: open, target: { type: 'job', id: 'migrate', tags: [] }, applies: true },
    { name: 'restricted with nothing named applies to nothing', restrictions: { ...open, restricted: true }, target: web, applies: false },
    { name: 'restricted to the service by id', restrictions: { ...open, restricted: true, nfObjects: [{ id: 'web', type: 'service' }] }, target: web, applies: true },
    { name: 'a job of the same id is another resource', restrictions: { ...open, restricted: true, nfObjects: [{ id: 'web', type: 'job' }] }, target: web, applies: false },
    { name: 'restricted to a tag the service carries', restrictions: { ...open, restricted: true, tags: ['production'] }, target: web, applies: true },
    { name: 'restricted to a tag the service lacks', restrictions: { ...open, restricted: true, tags: ['staging'] }, target: web, applies: false },
    { name: 'or: one of the tags is enough', restrictions: { ...open, restricted: true, tags: ['staging', 'eu'] }, target: web, applies: true },
    { name: 'and: every tag is needed', restrictions: { ...open, restricted: true, tags: ['staging', 'eu'], tagMatchCondition: 'and' }, target: web, applies: false },
    { name: 'and: all tags carried', restrictions: { ...open, restricted: true, tags: ['production', 'eu'], tagMatchCondition: 'and' }, target: web, applies: true },
    { name: 'tags restrict only when restricted is set', restrictions: { ...open, restricted: false, tags: ['staging'] }, target: web, applies: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(appliesTo({ restrictions: c.restrictions }, c.target), c.applies));
});

describe('merging the groups a resource inherits', () => {
  const g = (id: string, over: Partial<SecretGroupSpec>, variables: Record<string, string>, files: SecretGroupRecord['values']['files'] = {}) => ({ id, spec: spec(over), values: { variables, files } });
  const cases: { name: string; groups: ReturnType<typeof g>[]; use?: 'environment' | 'arguments'; variables: Record<string, string>; from?: Record<string, string> }[] = [
    { name: 'the higher priority wins', groups: [g('low', { priority: 1 }, { A: 'low' }), g('high', { priority: 50 }, { A: 'high' })], variables: { A: 'high' }, from: { A: 'high' } },
    { name: 'keys from every group are kept', groups: [g('one', {}, { A: '1' }), g('two', {}, { B: '2' })], variables: { A: '1', B: '2' } },
    { name: 'equal priorities: the first id wins, whatever the order given', groups: [g('b', {}, { A: 'b' }), g('a', {}, { A: 'a' })], variables: { A: 'a' }, from: { A: 'a' } },
    { name: 'argument groups do not reach the runtime', groups: [g('args', { secretType: 'arguments' }, { A: '1' })], variables: {} },
    { name: 'argument groups reach builds', groups: [g('args', { secretType: 'arguments' }, { A: '1' })], use: 'arguments', variables: { A: '1' } },
    { name: 'environment-arguments groups reach both', groups: [g('both', { secretType: 'environment-arguments' }, { A: '1' })], use: 'arguments', variables: { A: '1' } },
    { name: 'a group restricted away gives nothing', groups: [g('other', { restrictions: { ...open, restricted: true, tags: ['staging'] } }, { A: '1' })], variables: {} },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const set = inheritFrom(c.groups, web, c.use ?? 'environment');
      assert.deepEqual(flatten(set).variables, c.variables);
      for (const [k, id] of Object.entries(c.from ?? {})) assert.equal(set.variables[k].inheritedFrom, id);
    });
  }

  it('lists what the winning value overrides, highest first', () => {
    const set = inheritFrom([g('a', { priority: 1 }, { A: 'a' }), g('b', { priority: 5 }, { A: 'b' }), g('c', { priority: 9 }, { A: 'c' })], web, 'environment');
    assert.deepEqual(set.variables.A, { value: 'c', inheritedFrom: 'c', priority: 9, overriding: [{ value: 'b', inheritedFrom: 'b', priority: 5 }, { value: 'a', inheritedFrom: 'a', priority: 1 }] });
  });

  it('files merge like variables, and never reach builds', () => {
    const file = { data: Buffer.from('x').toString('base64') };
    const groups = [g('a', { secretType: 'environment-arguments' }, {}, { '/etc/app.conf': file })];
    assert.deepEqual(flatten(inheritFrom(groups, web, 'environment')).files, { '/etc/app.conf': file });
    assert.deepEqual(flatten(inheritFrom(groups, web, 'arguments')).files, {});
  });
});

describe('addon links in the merge', () => {
  const creds = { 'my-database': { HOST: '127.0.0.1', PASSWORD: 'pw-1', POSTGRES_URI: 'postgresql://u:pw-1@127.0.0.1:5432/db' } };
  const linked = (id: string, priority: number, variables: Record<string, string> = {}) => ({
    id,
    spec: spec({ priority, addonDependencies: [{ addonId: 'my-database', keys: [{ keyName: 'HOST' }, { keyName: 'POSTGRES_URI', aliases: ['DATABASE_URL'] }] }] }),
    values: { variables, files: {} },
  });
  it("names a key without alias by Northflank's default made a valid variable name", () => assert.equal(defaultLinkName('my-database', 'HOST'), 'NF_MY_DATABASE_HOST'));
  it('gives each linked key under its default name and each alias, from the group and the addon', () => {
    const set = inheritFrom([linked('db', 10)], web, 'environment', creds);
    assert.deepEqual(flatten(set).variables, { NF_MY_DATABASE_HOST: '127.0.0.1', NF_MY_DATABASE_POSTGRES_URI: creds['my-database'].POSTGRES_URI, DATABASE_URL: creds['my-database'].POSTGRES_URI });
    assert.equal(set.variables.DATABASE_URL.inheritedFrom, 'db');
    assert.equal(set.variables.DATABASE_URL.addonId, 'my-database');
  });
  it("lets the group's own variable win over its link, and a higher group win over both", () => {
    const set = inheritFrom([linked('db', 10, { DATABASE_URL: 'own' }), { id: 'top', spec: spec({ priority: 50 }), values: { variables: { NF_MY_DATABASE_HOST: 'top' }, files: {} } }], web, 'environment', creds);
    assert.equal(set.variables.DATABASE_URL.value, 'own');
    assert.equal(set.variables.DATABASE_URL.addonId, undefined);
    assert.equal(set.variables.NF_MY_DATABASE_HOST.value, 'top');
    assert.deepEqual(set.variables.NF_MY_DATABASE_HOST.overriding, [{ value: '127.0.0.1', inheritedFrom: 'db', priority: 10, addonId: 'my-database' }]);
  });
  it('gives nothing for an addon whose credentials are not known (gone)', () => assert.deepEqual(flatten(inheritFrom([linked('db', 10)], web, 'environment', {})).variables, {}));
  it('refuses a bad alias and a key linked twice, by field', () => {
    const problems = groupProblems(spec({ addonDependencies: [{ addonId: 'a', keys: [{ keyName: 'HOST', aliases: ['OK', '1 bad', 'PORT'] }, { keyName: 'HOST' }] }] }), {});
    assert.deepEqual(problems.map((p) => p.field), ['addonDependencies.0.keys.0.aliases.1', 'addonDependencies.0.keys.0.aliases.2', 'addonDependencies.0.keys.1.keyName']);
  });
});

describe('rules a group must keep', () => {
  const cases: { name: string; spec?: Partial<SecretGroupSpec>; values?: { variables?: Record<string, string>; files?: Record<string, { data: string }> }; fields: string[] }[] = [
    { name: 'a good group has no problem', values: { variables: { NODE_ENV: 'production', 'a.b/c-d': 'x' }, files: { '/etc/x': { data: 'eA==' } } }, fields: [] },
    { name: 'priority above 100', spec: { priority: 101 }, fields: ['priority'] },
    { name: 'priority below 0', spec: { priority: -1 }, fields: ['priority'] },
    { name: 'a relative file path', values: { files: { 'etc/x': { data: 'eA==' } } }, fields: ['secrets.files.etc/x'] },
    { name: 'a file path with ..', values: { files: { '/etc/../x': { data: 'eA==' } } }, fields: ['secrets.files./etc/../x'] },
    { name: 'file data that is not base64', values: { files: { '/etc/x': { data: 'not base64!' } } }, fields: ['secrets.files./etc/x.data'] },
    { name: 'a variable name with a space', values: { variables: { 'A B': '1' } }, fields: ['secrets.variables.A B'] },
    { name: 'a variable the platform sets', values: { variables: { PORT: '1', SLIPWAY_X: '2' } }, fields: ['secrets.variables.PORT', 'secrets.variables.SLIPWAY_X'] },
    { name: 'a resource named twice', spec: { restrictions: { ...open, restricted: true, nfObjects: [{ id: 'web', type: 'service' }, { id: 'web', type: 'service' }] } }, fields: ['restrictions.nfObjects.1'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(groupProblems(spec(c.spec), { variables: {}, files: {}, ...c.values }).map((p) => p.field), c.fields));
  }
});
