/**
 * Ajv errors → "field X breaks rule Y". Fields are dotted paths (`ports.0.name`); `required` and
 * `additionalProperties` name the missing or unknown property itself. For a oneOf/anyOf, Ajv reports every
 * branch's errors: the branch that got furthest (deepest errors, then fewest) is reported, or, if none
 * did, one problem at the union naming the rule.
 */
import type { ErrorObject } from 'ajv';
import type { FieldProblem } from '../errors/errors.ts';

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function join(base: string, prop: string): string {
  return base ? `${base}.${prop}` : prop;
}

function describe(e: ErrorObject): FieldProblem {
  const at = dotted(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { field: join(at, String(p.missingProperty)), rule: 'required', message: 'is required' };
    case 'additionalProperties':
      return { field: join(at, String(p.additionalProperty)), rule: 'additionalProperties', message: 'unknown field' };
    case 'pattern':
      return { field: at, rule: 'pattern', message: `must match pattern ${String(p.pattern)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { field: at, rule: e.keyword, message: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'minLength':
    case 'maxLength':
      return { field: at, rule: e.keyword, message: `must be ${e.keyword === 'minLength' ? 'at least' : 'at most'} ${String(p.limit)} characters` };
    case 'minItems':
    case 'maxItems':
      return { field: at, rule: e.keyword, message: `must have ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(p.limit)} items` };
    case 'enum':
      return { field: at, rule: 'enum', message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}` };
    case 'const':
      return { field: at, rule: 'enum', message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { field: at, rule: 'type', message: `must be ${String(p.type)}` };
    case 'format':
      return { field: at, rule: 'format', message: `must be a valid ${String(p.format)}` };
    default:
      return { field: at, rule: e.keyword, message: e.message ?? `breaks ${e.keyword}` };
  }
}

/** Path of the union a branch error belongs to, e.g. `#/properties/deployment/anyOf/1/...` → index 1. */
function branchOf(e: ErrorObject, unionSchemaPath: string): string | undefined {
  if (!e.schemaPath.startsWith(`${unionSchemaPath}/`)) return undefined;
  return e.schemaPath.slice(unionSchemaPath.length + 1).split('/')[0];
}

export function toFieldProblems(errors: ErrorObject[]): FieldProblem[] {
  let rest = [...errors];
  const out: FieldProblem[] = [];
  // Resolve unions from the outermost in: keep only the best branch's errors of each failed union.
  const unions = rest.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  const handled = new Set<ErrorObject>();
  for (const u of unions) {
    if (!rest.includes(u)) continue;
    const unionPath = u.schemaPath.slice(0, -u.keyword.length - 1) + `/${u.keyword}`;
    const inside = rest.filter((e) => e !== u && branchOf(e, unionPath) !== undefined);
    const passing = (u.params as { passingSchemas?: number[] | null }).passingSchemas;
    rest = rest.filter((e) => e !== u && !inside.includes(e));
    if (passing && passing.length > 1) {
      out.push({ field: dotted(u.instancePath), rule: u.keyword, message: `matches more than one of the allowed shapes (${passing.join(', ')}): send exactly one` });
      continue;
    }
    const byBranch = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const b = branchOf(e, unionPath)!;
      byBranch.set(b, [...(byBranch.get(b) ?? []), e]);
    }
    // A branch did not apply when it fails on the union's own value by type, by its `not` (mutual
    // exclusion), or by calling unknown a property that another branch accepts (internal vs external).
    const unknownAtUnion = (es: ErrorObject[]) => new Set(es.filter((e) => e.keyword === 'additionalProperties' && e.instancePath === u.instancePath).map((e) => String((e.params as { additionalProperty: string }).additionalProperty)));
    const unknownSets = [...byBranch.values()].map(unknownAtUnion);
    const score = (es: ErrorObject[]) => {
      const mine = unknownAtUnion(es);
      const wrongShape = [...mine].some((prop) => unknownSets.some((other) => !other.has(prop)));
      const typeMiss = wrongShape || es.some((e) => (e.keyword === 'type' || e.keyword === 'not' || e.keyword === 'const') && e.instancePath === u.instancePath);
      const depth = Math.max(...es.map((e) => e.instancePath.split('/').length));
      return { typeMiss, depth, count: es.length };
    };
    const ranked = [...byBranch.values()]
      .map((es) => ({ es, s: score(es) }))
      .sort((a, b) => Number(a.s.typeMiss) - Number(b.s.typeMiss) || b.s.depth - a.s.depth || a.s.count - b.s.count);
    const best = ranked[0];
    const tied = ranked.length > 1 && ranked[1].s.typeMiss === best?.s.typeMiss && ranked[1].s.depth === best.s.depth && ranked[1].s.count === best.s.count;
    if (!best || best.s.typeMiss || tied) {
      // Keep deeper concrete errors shared by all branches (e.g. a bad field common to every shape).
      const common = best ? best.es.filter((e) => e.keyword !== 'not' && e.instancePath !== u.instancePath && ranked.every((r) => r.es.some((x) => x.instancePath === e.instancePath && x.keyword === e.keyword))) : [];
      if (common.length) common.forEach((e) => handled.add(e));
      else out.push({ field: dotted(u.instancePath), rule: u.keyword, message: `must match exactly one of the allowed shapes${u.keyword === 'oneOf' ? ' (e.g. internal or external, not both)' : ''}` });
    } else {
      best.es.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf').forEach((e) => handled.add(e));
      // Nested unions inside the chosen branch are resolved on a later iteration.
      rest.push(...best.es.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf'));
    }
  }
  const all = [...out, ...[...handled, ...rest].filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'not' && e.keyword !== 'if').map(describe)];
  const seen = new Set<string>();
  return all.filter((p) => {
    const k = `${p.field}|${p.rule}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
