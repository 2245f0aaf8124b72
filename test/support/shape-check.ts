/**
 * A small structural type and a pure checker of JSON values against it: the subset of TypeScript types the
 * Northflank client declares for its results (objects with required and optional properties, arrays, string
 * literal unions, primitives, unions, `any`). `client-types.ts` reads these shapes from the client's `.d.ts`;
 * this module knows nothing of TypeScript, so its rules are tested on hand-made shapes.
 */

export type Shape =
  | { kind: 'any' }
  | { kind: 'never' }
  | { kind: 'string' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  | { kind: 'null' }
  | { kind: 'undefined' }
  | { kind: 'literal'; value: string | number | boolean }
  | { kind: 'object'; props: Record<string, { shape: Shape; optional: boolean }>; index?: Shape }
  | { kind: 'array'; items: Shape }
  | { kind: 'union'; options: Shape[] };

/** One way a value breaks its shape: where (a dotted path from the result's root) and what. */
export interface Problem {
  path: string;
  rule: string;
}

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'string' ? `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}` : typeof v;
}

/** Writes a shape as TypeScript would, shortly (for messages). */
export function shapeText(s: Shape, depth = 0): string {
  switch (s.kind) {
    case 'literal':
      return JSON.stringify(s.value);
    case 'object':
      return depth > 0 ? 'object' : `{ ${Object.keys(s.props).join(', ')} }`;
    case 'array':
      return `${shapeText(s.items, depth + 1)}[]`;
    case 'union':
      return s.options.map((o) => shapeText(o, depth + 1)).join(' | ');
    default:
      return s.kind;
  }
}

/**
 * Every problem of `value` against `shape`: a required property missing, a primitive of the wrong type, a
 * string outside its literal union, recursively into objects and array items. Properties the shape does not
 * name are allowed (slipway adds its own), and an absent optional property is fine; a present one is checked.
 * A union passes when one option passes; otherwise the problems of the closest option are reported.
 */
export function checkShape(shape: Shape, value: unknown, path = ''): Problem[] {
  switch (shape.kind) {
    case 'any':
      return [];
    case 'never':
      return [{ path, rule: `no value is allowed here, got ${describe(value)}` }];
    case 'string':
    case 'number':
    case 'boolean':
      return typeof value === shape.kind ? [] : [{ path, rule: `must be a ${shape.kind}, got ${describe(value)}` }];
    case 'null':
      return value === null ? [] : [{ path, rule: `must be null, got ${describe(value)}` }];
    case 'undefined':
      return value === undefined ? [] : [{ path, rule: `must be absent, got ${describe(value)}` }];
    case 'literal':
      return value === shape.value ? [] : [{ path, rule: `must be ${JSON.stringify(shape.value)}, got ${describe(value)}` }];
    case 'array': {
      if (!Array.isArray(value)) return [{ path, rule: `must be an array, got ${describe(value)}` }];
      return value.flatMap((item, i) => checkShape(shape.items, item, join(path, i)));
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [{ path, rule: `must be an object, got ${describe(value)}` }];
      const obj = value as Record<string, unknown>;
      const out: Problem[] = [];
      for (const [key, prop] of Object.entries(shape.props)) {
        if (obj[key] === undefined) {
          if (!prop.optional) out.push({ path: join(path, key), rule: `is required (${shapeText(prop.shape)})` });
          continue;
        }
        out.push(...checkShape(prop.shape, obj[key], join(path, key)));
      }
      if (shape.index) {
        for (const [key, v] of Object.entries(obj)) if (!(key in shape.props)) out.push(...checkShape(shape.index, v, join(path, key)));
      }
      return out;
    }
    case 'union': {
      const literals = shape.options.filter((o): o is Extract<Shape, { kind: 'literal' }> => o.kind === 'literal');
      // The closest option: the one whose own properties the value has (a property missing right here weighs
      // more than any number of problems deeper down), then the one with the fewest problems.
      let best: Problem[] | undefined;
      let bestScore = Infinity;
      for (const option of shape.options) {
        const problems = checkShape(option, value, path);
        if (problems.length === 0) return [];
        const missingHere = problems.filter((p) => p.rule.startsWith('is required') && p.path.split('.').length === (path ? path.split('.').length + 1 : 1)).length;
        const score = missingHere * 1000 + problems.length;
        if (score < bestScore) [best, bestScore] = [problems, score];
      }
      // A value outside a union of literals (an enum): name the allowed values.
      if (literals.length && literals.length + shape.options.filter((o) => o.kind === 'null' || o.kind === 'undefined').length === shape.options.length) {
        return [{ path, rule: `must be one of ${shape.options.map((o) => shapeText(o)).join(' | ')}, got ${describe(value)}` }];
      }
      return best ?? [{ path, rule: 'matches no option' }];
    }
  }
}

/** The JSON Schema subset a route's body schema uses (TypeBox, as `/openapi.json` prints it). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/**
 * What a request type allows that a body schema refuses: a property the client may send that the schema
 * does not name (where it refuses unknown properties), and an enum value the client may send that the
 * schema's enum leaves out; recursively into objects and array items. Types of primitives are not compared
 * (the schema's own limits, from the seeds, are stricter on purpose).
 */
export function requestGaps(shape: Shape, schema: JsonSchema | undefined, path = ''): Problem[] {
  if (!schema) return [];
  const branches = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
  switch (shape.kind) {
    case 'union': {
      const literals = shape.options.filter((o): o is Extract<Shape, { kind: 'literal' }> => o.kind === 'literal');
      const out = shape.options.filter((o) => o.kind !== 'literal').flatMap((o) => requestGaps(o, schema, path));
      const allowed = branches.flatMap((b) => [...(b.enum ?? []), ...('const' in b ? [b.const] : [])]);
      if (allowed.length) for (const l of literals) if (!allowed.includes(l.value)) out.push({ path, rule: `the client may send ${JSON.stringify(l.value)}, the schema refuses it` });
      return dedupe(out);
    }
    case 'array':
      return requestGaps(shape.items, branches.find((b) => b.items)?.items, path);
    case 'object': {
      const objects = branches.filter((b) => b.properties || b.additionalProperties !== undefined);
      if (!objects.length) return [];
      const out: Problem[] = [];
      for (const [key, prop] of Object.entries(shape.props)) {
        const named = objects.map((b) => b.properties?.[key]).filter((x): x is JsonSchema => !!x);
        const open = objects.find((b) => b.additionalProperties !== false && !b.properties?.[key]);
        if (!named.length && !open) {
          out.push({ path: path ? `${path}.${key}` : key, rule: 'the client may send it, the schema refuses it' });
          continue;
        }
        // Gaps only where no branch that names the property takes what the client sends there.
        const perBranch = named.map((n) => requestGaps(prop.shape, n, path ? `${path}.${key}` : key));
        if (perBranch.length && perBranch.every((g) => g.length)) out.push(...perBranch.sort((a, b) => a.length - b.length)[0]);
      }
      return out;
    }
    default:
      return [];
  }
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(`${p.path} ${p.rule}`) && seen.add(`${p.path} ${p.rule}`));
}
