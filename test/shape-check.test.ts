import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkShape, requestGaps, type JsonSchema, type Shape } from './support/shape-check.ts';
import { DeclarationReader, clientDeclarations, clientEndpoints } from './support/client-types.ts';

const status: Shape = { kind: 'union', options: ['PENDING', 'COMPLETED'].map((value) => ({ kind: 'literal', value }) as Shape) };
const service: Shape = {
  kind: 'object',
  props: {
    id: { shape: { kind: 'string' }, optional: false },
    paused: { shape: { kind: 'boolean' }, optional: false },
    description: { shape: { kind: 'string' }, optional: true },
    status: { shape: { kind: 'object', props: { deployment: { shape: { kind: 'object', props: { status: { shape: status, optional: false } } }, optional: true } } }, optional: false },
    ports: { shape: { kind: 'array', items: { kind: 'object', props: { name: { shape: { kind: 'string' }, optional: false } } } }, optional: false },
  },
};
const good = { id: 'web', paused: false, status: { deployment: { status: 'COMPLETED' } }, ports: [{ name: 'p01' }], extra: 'slipway may add fields' };

test('a value with every required property of the right type passes, extra properties and absent optional ones included', () => {
  assert.deepEqual(checkShape(service, good), []);
});

test('a missing required property is reported by its path, also inside array items', () => {
  const { paused: _, ...noPaused } = good;
  assert.deepEqual(checkShape(service, noPaused), [{ path: 'paused', rule: 'is required (boolean)' }]);
  const problems = checkShape(service, { ...good, ports: [{ name: 'p01' }, {}] });
  assert.deepEqual(problems.map((p) => p.path), ['ports.1.name']);
});

test('a string outside its literal union is reported with the allowed values', () => {
  const problems = checkShape(service, { ...good, status: { deployment: { status: 'DONE' } } });
  assert.equal(problems.length, 1);
  assert.equal(problems[0].path, 'status.deployment.status');
  assert.match(problems[0].rule, /one of "PENDING" \| "COMPLETED", got string "DONE"/);
});

test('a primitive of the wrong type and a present optional property of the wrong type are reported', () => {
  const problems = checkShape(service, { ...good, id: 7, description: null });
  assert.deepEqual(problems.map((p) => [p.path, p.rule]), [
    ['id', 'must be a string, got number'],
    ['description', 'must be a string, got null'],
  ]);
});

test('declarations are read into shapes: required, optional, enums, nullable, arrays, nested objects, index signatures, `| any` results', () => {
  const reader = new DeclarationReader('/virtual/api.d.ts', `
    declare abstract class GetApiEndpoint<T, R> { r?: R; t?: T }
    type GetThingResult = {
      'id': string;
      'count'?: number;
      'kind': 'a' | 'b';
      'flag': boolean;
      'header'?: string | null;
      'items': { 'name': string }[];
      'env': { [key: string]: string };
    };
    declare class GetThingEndpoint extends GetApiEndpoint<{}, GetThingResult> {}
    type CreateThingResult = { 'id': string } | any;
    declare class CreateThingEndpoint extends GetApiEndpoint<{}, CreateThingResult> {}
  `);
  // `{ … } | any` is any to the compiler; the documented object is what is checked.
  assert.deepEqual(checkShape(reader.resultOf('CreateThingEndpoint'), {}), [{ path: 'id', rule: 'is required (string)' }]);
  const shape = reader.resultOf('GetThingEndpoint');
  const ok = { id: 'x', kind: 'a', flag: true, header: null, items: [{ name: 'n' }], env: { A: '1' } };
  assert.deepEqual(checkShape(shape, ok), []);
  const bad = checkShape(shape, { id: 'x', kind: 'c', header: 3, items: [{}], env: { A: 1 } });
  assert.deepEqual(bad.map((p) => p.path).sort(), ['env.A', 'flag', 'header', 'items.0.name', 'kind']);
});

test("the official client's declarations give GetServiceResult's required fields and each endpoint's route and call", () => {
  const shape = clientDeclarations().resultOf('GetServiceEndpoint');
  assert.equal(shape.kind, 'object');
  const props = (shape as Extract<Shape, { kind: 'object' }>).props;
  assert.equal(props.servicePaused.optional, false);
  assert.equal(props.buildSource.optional, true);
  const endpoints = clientEndpoints();
  const get = endpoints.find((e) => e.name === 'GetServiceEndpoint');
  assert.deepEqual(get, { name: 'GetServiceEndpoint', method: 'GET', route: '/v1/projects/:projectId/services/:serviceId', call: 'get.service' });
  assert.equal(endpoints.find((e) => e.name === 'CreateServiceBuildEndpoint')?.call, 'create.service.build');
});

test("a request field or enum value the client may send and a body schema refuses is reported; open maps and anyOf branches accept", () => {
  const request: Shape = {
    kind: 'object',
    props: {
      name: { shape: { kind: 'string' }, optional: false },
      stageId: { shape: { kind: 'string' }, optional: true },
      strategy: { shape: { kind: 'union', options: ['recreate', 'custom'].map((value) => ({ kind: 'literal', value }) as Shape) }, optional: true },
      env: { shape: { kind: 'object', props: { A: { shape: { kind: 'string' }, optional: true } } }, optional: true },
      build: { shape: { kind: 'object', props: { buildpack: { shape: { kind: 'object', props: {} }, optional: true } } }, optional: true },
    },
  };
  const schema: JsonSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      strategy: { anyOf: [{ const: 'recreate' }, { const: 'rollout-steady' }] },
      env: { type: 'object', additionalProperties: { type: 'string' } },
      build: { anyOf: [{ type: 'object', additionalProperties: false, properties: { dockerfile: {} } }, { type: 'object', additionalProperties: false, properties: { buildpack: {} } }] },
    },
  };
  assert.deepEqual(requestGaps(request, schema).map((g) => `${g.path}: ${g.rule}`), ['stageId: the client may send it, the schema refuses it', 'strategy: the client may send "custom", the schema refuses it']);
});
