/**
 * Release flow templates in Northflank's workflow format, as pure functions: parse the `spec` tree into leaf
 * nodes with the nodes each waits for, check it against the pipeline stage (each refusal names the path of the
 * bad node), and resolve `${args.*}` and `${refs.*}` in a node's spec.
 *
 *   Workflow(sequential) ── AddonBackup ─► JobRun(expand) ─► Release ─► JobRun(contract)
 *                                                               └─(fails)─► JobRun(revert-expand)
 *
 * A node's "after" set is what must have concluded well before it starts: in a sequential workflow every leaf
 * of the step before it, in a parallel one what the workflow itself waits for; plus the nodes whose refs it
 * reads; plus, for slipway's expand/contract extension (`slipway.phase`), every expand node before a release
 * node and every release node before a contract or revert-expand node. A cycle in that graph is refused.
 */
import type { FieldProblem } from '../errors/errors.ts';

export const STAGES = ['Development', 'Staging', 'Production'] as const;
export type Stage = (typeof STAGES)[number];

export const NODE_KINDS = ['Workflow', 'Release', 'JobRun', 'AddonBackup', 'Build', 'Condition'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];
export type Phase = 'expand' | 'contract' | 'revert-expand';

/** A pipeline's resource as the flow checks it: id, kind, and for services whether it is a build service. */
export interface StageResource {
  id: string;
  type: 'service' | 'job' | 'addon';
  stage: Stage | null;
  serviceKind?: 'build' | 'combined' | 'deployment';
}

/** A leaf of the tree: what the runner starts, with the leaves that must conclude well before it. */
export interface FlowLeaf {
  /** where it sits in the request body, e.g. `spec.spec.steps[2]` */
  path: string;
  kind: Exclude<NodeKind, 'Workflow'>;
  ref?: string;
  spec: Record<string, unknown>;
  /** Northflank's `condition` on a node: `success` waits for a job run, backup or build; release nodes always wait */
  condition?: string;
  skipNodeExecution?: string;
  phase?: Phase;
  /** paths of the leaves this one waits for */
  after: string[];
}

export interface ParsedFlow {
  leaves: FlowLeaf[];
  problems: FieldProblem[];
}

const REF_PATTERN = /\$\{([^}]*)\}/g;
const NODE_KEYS = new Set(['kind', 'ref', 'spec', 'condition', 'skipNodeExecution', 'timeoutDuration', 'slipway', 'description']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every `${…}` expression in a value, with the path of the string it sits in. */
export function expressionsIn(value: unknown, path: string, out: { path: string; expr: string }[] = []): { path: string; expr: string }[] {
  if (typeof value === 'string') for (const m of value.matchAll(REF_PATTERN)) out.push({ path, expr: m[1].trim() });
  else if (Array.isArray(value)) value.forEach((v, i) => expressionsIn(v, `${path}[${i}]`, out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) expressionsIn(v, `${path}.${k}`, out);
  return out;
}

/**
 * Parse and check a template's `spec` (the root node) against the stage's resources. `root` is the path of the
 * node in the request (`spec`). Returns the leaves in document order and every problem found.
 */
export function parseFlow(node: unknown, ctx: { stage: Stage; resources: StageResource[]; previousStage: Stage | null; triggerRefs?: string[] }, root = 'spec'): ParsedFlow {
  const problems: FieldProblem[] = [];
  const leaves: FlowLeaf[] = [];
  const refs = new Map<string, string>();
  const bad = (field: string, rule: string, message: string) => problems.push({ field, rule, message });

  const walk = (n: unknown, path: string, after: string[]): string[] => {
    if (!isObject(n)) {
      bad(path, 'type', 'a node is an object with kind and spec');
      return [];
    }
    const kind = n.kind;
    if (typeof kind !== 'string' || !(NODE_KINDS as readonly string[]).includes(kind)) {
      bad(`${path}.kind`, 'kind', `unknown node kind ${JSON.stringify(kind)}: a release flow node is one of ${NODE_KINDS.join(', ')}`);
      return [];
    }
    for (const k of Object.keys(n)) if (!NODE_KEYS.has(k)) bad(`${path}.${k}`, 'additionalProperties', `a node has no field '${k}'`);
    if (n.ref !== undefined) {
      if (typeof n.ref !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(n.ref)) bad(`${path}.ref`, 'pattern', 'a ref is 1-64 letters, digits, - or _');
      else if (refs.has(n.ref)) bad(`${path}.ref`, 'unique', `ref '${n.ref}' is also the ref of ${refs.get(n.ref)}`);
      else refs.set(n.ref, path);
    }
    const spec = n.spec;
    if (!isObject(spec)) {
      bad(`${path}.spec`, 'required', `a ${kind} node needs a spec object`);
      return [];
    }
    if (kind === 'Workflow') {
      if (spec.type !== 'sequential' && spec.type !== 'parallel') bad(`${path}.spec.type`, 'enum', "a workflow is 'sequential' or 'parallel'");
      if (!Array.isArray(spec.steps)) {
        bad(`${path}.spec.steps`, 'required', 'a workflow lists its steps');
        return [];
      }
      const all: string[] = [];
      let prev = after;
      (spec.steps as unknown[]).forEach((step, i) => {
        const got = walk(step, `${path}.spec.steps[${i}]`, spec.type === 'parallel' ? after : prev);
        all.push(...got);
        if (spec.type !== 'parallel') prev = got.length ? got : prev;
      });
      return all;
    }
    const leaf: FlowLeaf = { path, kind: kind as FlowLeaf['kind'], spec, after: [...after], ...(typeof n.ref === 'string' ? { ref: n.ref } : {}) };
    if (n.condition !== undefined) {
      const allowed = kind === 'Release' ? ['running'] : kind === 'Condition' ? [] : ['success'];
      if (typeof n.condition !== 'string' || !allowed.includes(n.condition)) bad(`${path}.condition`, 'enum', allowed.length ? `a ${kind} node's condition is ${allowed.map((a) => `'${a}'`).join(' or ')}` : `a ${kind} node has no condition`);
      else leaf.condition = n.condition;
    }
    if (n.skipNodeExecution !== undefined) {
      if (typeof n.skipNodeExecution !== 'string' || !(['true', 'false'].includes(n.skipNodeExecution) || n.skipNodeExecution.includes('${'))) bad(`${path}.skipNodeExecution`, 'enum', "'true', 'false' or a ${…} reference");
      else leaf.skipNodeExecution = n.skipNodeExecution;
    }
    if (n.slipway !== undefined) {
      const ph = isObject(n.slipway) ? n.slipway.phase : undefined;
      if (kind !== 'JobRun' || !['expand', 'contract', 'revert-expand'].includes(ph as string)) bad(`${path}.slipway.phase`, 'enum', "slipway.phase marks a JobRun node 'expand', 'contract' or 'revert-expand'");
      else leaf.phase = ph as Phase;
    }
    checkLeaf(leaf, ctx, bad);
    leaves.push(leaf);
    return [path];
  };
  walk(node, root, []);

  // References: to arguments (any name: they may come with the run), and to nodes that exist.
  const byPath = new Map(leaves.map((l) => [l.path, l]));
  for (const leaf of leaves) {
    for (const { path, expr } of expressionsIn(leaf.spec, `${leaf.path}.spec`).concat(expressionsIn(leaf.skipNodeExecution, `${leaf.path}.skipNodeExecution`))) {
      const parts = expr.split('.');
      if (parts[0] === 'args' && parts.length === 2 && parts[1]) continue;
      if (parts[0] === 'refs' && parts.length >= 2) {
        const target = refs.get(parts[1]);
        if (!target && ctx.triggerRefs?.includes(parts[1])) continue;
        if (!target) bad(path, 'ref', `\${${expr}} names no node: no node has ref '${parts[1]}'`);
        else if (byPath.has(target) && target !== leaf.path) leaf.after.push(target);
        else if (target === leaf.path) bad(path, 'cycle', `\${${expr}} is the node's own output`);
        continue;
      }
      bad(path, 'reference', `\${${expr}}: only \${args.NAME} and \${refs.REF.KEY} are available`);
    }
  }
  // The expand/contract extension binds job runs to the release nodes of the flow.
  const releases = leaves.filter((l) => l.kind === 'Release').map((l) => l.path);
  const expands = leaves.filter((l) => l.phase === 'expand').map((l) => l.path);
  for (const leaf of leaves) {
    if (leaf.kind === 'Release') leaf.after.push(...expands);
    if (leaf.phase === 'contract' || leaf.phase === 'revert-expand') {
      if (!releases.length) bad(`${leaf.path}.slipway.phase`, 'release', `a ${leaf.phase} node needs a Release node in the flow to follow`);
      leaf.after.push(...releases);
    }
    if (leaf.phase === 'revert-expand') {
      // It runs when a promotion failed, so not after the nodes a failure skips: only after the expand nodes
      // and the release nodes.
      leaf.after = [...new Set([...expands, ...releases])];
    }
    leaf.after = [...new Set(leaf.after)].filter((p) => p !== leaf.path);
  }
  const cycle = findCycle(leaves);
  if (cycle) bad(cycle[0], 'cycle', `the nodes wait for each other: ${cycle.join(' → ')}`);
  return { leaves, problems };
}

/** A cycle in the "after" graph, as the paths around it, or undefined. */
function findCycle(leaves: FlowLeaf[]): string[] | undefined {
  const after = new Map(leaves.map((l) => [l.path, l.after]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (p: string): string[] | undefined => {
    if (state.get(p) === 2) return undefined;
    if (state.get(p) === 1) return [...stack.slice(stack.indexOf(p)), p];
    state.set(p, 1);
    stack.push(p);
    for (const q of after.get(p) ?? []) {
      const c = visit(q);
      if (c) return c;
    }
    stack.pop();
    state.set(p, 2);
    return undefined;
  };
  for (const l of leaves) {
    const c = visit(l.path);
    if (c) return c;
  }
  return undefined;
}

const literal = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !v.includes('${');

/** The resource checks of one leaf: ids that exist, in this stage (or, for a promotion's origin, the stage before). */
function checkLeaf(leaf: FlowLeaf, ctx: { stage: Stage; resources: StageResource[]; previousStage: Stage | null }, bad: (f: string, r: string, m: string) => void): void {
  const s = leaf.spec;
  const at = (k: string) => `${leaf.path}.spec.${k}`;
  const inStage = (field: string, id: unknown, type: 'service' | 'job' | 'addon') => {
    if (!literal(id)) {
      if (typeof id !== 'string') bad(field, 'required', `name the ${type}`);
      return;
    }
    const r = ctx.resources.find((x) => x.id === id && x.type === type);
    if (!r) bad(field, 'exists', `the project has no ${type} '${id}'`);
    else if (r.stage !== ctx.stage) bad(field, 'stage', `${type} '${id}' is ${r.stage ? `in the ${r.stage} stage` : 'not in the pipeline'}: a ${ctx.stage} release flow manages only resources of its own stage`);
  };
  switch (leaf.kind) {
    case 'Release': {
      const target = isObject(s.target) ? s.target : undefined;
      if (!target) bad(at('target'), 'required', 'a release node names its target { id, type }');
      else {
        if (target.type !== 'service' && target.type !== 'job') bad(at('target.type'), 'enum', "the target is a 'service' or a 'job'");
        else inStage(at('target.id'), target.id, target.type);
      }
      const origin = isObject(s.origin) ? s.origin : undefined;
      if (!origin) {
        bad(at('origin'), 'required', 'a release node names its origin');
        break;
      }
      if (s.type === 'build') {
        if (origin.id !== undefined && literal(origin.id)) {
          const r = ctx.resources.find((x) => x.id === origin.id && x.type === 'service');
          if (!r) bad(at('origin.id'), 'exists', `the project has no build service '${origin.id}'`);
          else if (r.serviceKind !== 'build') bad(at('origin.id'), 'buildService', `'${origin.id}' is a ${r.serviceKind} service: a build release deploys from a build service`);
        } else if (origin.id === undefined && !(typeof origin.build === 'string' && origin.build.includes('${'))) bad(at('origin.id'), 'required', 'name the build service to deploy from');
      } else if (s.type === 'registry') {
        if (typeof origin.imagePath !== 'string' || !origin.imagePath) bad(at('origin.imagePath'), 'required', 'a registry release names the image to deploy');
      } else if (s.type === 'deployment') {
        if (!ctx.previousStage) bad(at('type'), 'stage', `the ${ctx.stage} stage has no stage before it to promote from`);
        else if (origin.type !== 'service' && origin.type !== 'job') bad(at('origin.type'), 'enum', "the origin is a 'service' or a 'job'");
        else if (literal(origin.id)) {
          const r = ctx.resources.find((x) => x.id === origin.id && x.type === origin.type);
          if (!r) bad(at('origin.id'), 'exists', `the project has no ${origin.type} '${origin.id}'`);
          else if (r.stage !== ctx.previousStage) bad(at('origin.id'), 'stage', `${origin.type} '${origin.id}' is ${r.stage ? `in the ${r.stage} stage` : 'not in the pipeline'}: a promotion takes the deployment of a resource in the ${ctx.previousStage} stage`);
        } else bad(at('origin.id'), 'required', 'name the resource to promote from');
      } else bad(at('type'), 'enum', "a release node's type is 'build' (from a build service), 'registry' (an image) or 'deployment' (promote the previous stage's deployment)");
      break;
    }
    case 'JobRun':
      inStage(at('jobId'), s.jobId, 'job');
      break;
    case 'AddonBackup':
      inStage(at('addonId'), s.addonId, 'addon');
      if (s.backupType !== undefined && s.backupType !== 'dump' && s.backupType !== 'snapshot') bad(at('backupType'), 'enum', "'dump' or 'snapshot'");
      break;
    case 'Build': {
      if (literal(s.id)) {
        const r = ctx.resources.find((x) => x.id === s.id && x.type === 'service');
        if (!r) bad(at('id'), 'exists', `the project has no build service '${s.id}'`);
        else if (r.serviceKind !== 'build') bad(at('id'), 'buildService', `'${s.id}' is a ${r.serviceKind} service: a build node starts a build service's build`);
      } else if (typeof s.id !== 'string') bad(at('id'), 'required', 'name the build service');
      break;
    }
    case 'Condition': {
      const kinds: Record<string, { type: string; field: string; res: 'service' | 'job' | 'addon' }> = {
        Service: { type: 'running', field: 'serviceId', res: 'service' },
        Addon: { type: 'running', field: 'addonId', res: 'addon' },
        JobRun: { type: 'success', field: 'jobId', res: 'job' },
        AddonBackup: { type: 'success', field: 'addonId', res: 'addon' },
      };
      const k = typeof s.kind === 'string' ? kinds[s.kind] : undefined;
      if (!k) {
        bad(at('kind'), 'enum', `a condition checks a ${Object.keys(kinds).join(', ')}`);
        break;
      }
      if (s.type !== k.type) bad(at('type'), 'enum', `a ${s.kind} condition's type is '${k.type}'`);
      const inner = isObject(s.spec) ? s.spec : undefined;
      if (!inner) bad(at('spec'), 'required', `a condition's spec names the ${k.res}`);
      else inStage(`${at('spec')}.${k.field}`, inner[k.field], k.res);
      if (s.timeoutDuration !== undefined && !(Number.isInteger(s.timeoutDuration) && (s.timeoutDuration as number) >= 30 && (s.timeoutDuration as number) <= 14400)) bad(at('timeoutDuration'), 'range', 'seconds, 30 to 14400');
      break;
    }
  }
}

/**
 * Resolve `${args.X}` and `${refs.R.K}` in a value. A string that is exactly one expression takes the value's
 * own type. Returns the unresolved expressions instead when any is missing.
 */
export function resolveExpressions<T>(value: T, scope: { args: Record<string, unknown>; refs: Record<string, Record<string, unknown>> }): { value: T; missing: string[] } {
  const missing: string[] = [];
  const lookup = (expr: string): unknown => {
    const [head, name, ...rest] = expr.trim().split('.');
    let v: unknown = head === 'args' ? scope.args[name] : head === 'refs' ? scope.refs[name] : undefined;
    for (const k of rest) v = isObject(v) ? v[k] : undefined;
    if (v === undefined) missing.push(expr.trim());
    return v;
  };
  const go = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\$\{([^}]*)\}$/.exec(v);
      if (whole) return lookup(whole[1]);
      return v.replace(REF_PATTERN, (_m, e: string) => String(lookup(e) ?? ''));
    }
    if (Array.isArray(v)) return v.map(go);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, go(x)]));
    return v;
  };
  const out = go(value) as T;
  return { value: out, missing };
}

/** The stage before this one, by Northflank's order (Development → Staging → Production). */
export function previousStage(stage: Stage): Stage | null {
  const i = STAGES.indexOf(stage);
  return i > 0 ? STAGES[i - 1] : null;
}

export function isStage(s: string): s is Stage {
  return (STAGES as readonly string[]).includes(s);
}
