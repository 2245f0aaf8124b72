/**
 * The official Northflank client as a contract, read from the package itself:
 * - its `.d.ts` (through the TypeScript compiler API) gives, for each endpoint class, the result type (the
 *   `data` of a response) and the request body type, turned into `Shape`s that `shape-check.ts` checks;
 * - its JavaScript gives each endpoint's HTTP method and URL template (the endpoint classes are exported and
 *   build their URL from the parameters they are given);
 * - its `ApiClient` class gives the call path (`get.service`, `create.service.build`, …) of each endpoint.
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import ts from 'typescript';
import * as nf from '@northflank/js-client';
import type { Shape } from './shape-check.ts';

const require = createRequire(import.meta.url);
const DTS = path.join(path.dirname(require.resolve('@northflank/js-client')).replace(/cjs$/, 'esm'), 'api-client.d.ts');

export interface ClientEndpoint {
  /** the endpoint class, e.g. `GetServiceEndpoint` */
  name: string;
  method: string;
  /** the URL with `:param` placeholders, e.g. `/v1/projects/:projectId/services/:serviceId` */
  route: string;
  /** where the client exposes it, e.g. `get.service` (absent for the few the client has no call for) */
  call?: string;
}

/** A reader over a declaration file: types by name, endpoint result and body types as shapes. */
export class DeclarationReader {
  private readonly checker: ts.TypeChecker;
  private readonly source: ts.SourceFile;
  private readonly cache = new Map<ts.Type, Shape>();
  private readonly classes = new Map<string, ts.ClassDeclaration>();
  private readonly aliases = new Map<string, ts.TypeAliasDeclaration>();

  constructor(fileName: string, text?: string) {
    const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext };
    const host = ts.createCompilerHost(options);
    if (text !== undefined) {
      const read = host.getSourceFile;
      host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === path.resolve(fileName) ? ts.createSourceFile(name, text, lang, true) : read.call(host, name, lang, ...rest));
      host.fileExists = ((exists) => (name: string) => path.resolve(name) === path.resolve(fileName) || exists(name))(host.fileExists);
    }
    const program = ts.createProgram({ rootNames: [fileName], options, host });
    this.checker = program.getTypeChecker();
    this.source = program.getSourceFile(fileName)!;
    for (const st of this.source.statements) {
      if (ts.isClassDeclaration(st) && st.name) this.classes.set(st.name.text, st);
      if (ts.isTypeAliasDeclaration(st)) this.aliases.set(st.name.text, st);
    }
  }

  /** The named type alias as a shape. */
  alias(name: string): Shape {
    const decl = this.aliases.get(name);
    if (!decl) throw new Error(`no type ${name} in the declarations`);
    return this.shapeOf(this.checker.getTypeFromTypeNode(decl.type));
  }

  /** The request body type (`XData` of endpoint `XEndpoint`), if the endpoint takes a body. */
  dataOf(endpointClass: string): Shape | undefined {
    const name = endpointClass.replace(/Endpoint$/, 'Data');
    return this.aliases.has(name) ? this.alias(name) : undefined;
  }

  hasAlias(name: string): boolean {
    return this.aliases.has(name);
  }

  /** The result type (second type argument of `extends XApiEndpoint<Request, Result>`) of an endpoint class. */
  resultOf(endpointClass: string): Shape {
    const cls = this.classes.get(endpointClass);
    const arg = cls?.heritageClauses?.[0]?.types[0]?.typeArguments?.[1];
    if (!arg) throw new Error(`no endpoint class ${endpointClass} in the declarations`);
    return this.documented(arg);
  }

  /**
   * The type a node documents. The generated declarations write some results as `{ … } | any`, which the
   * compiler collapses to `any`; the object is what the API documents, so it is what is checked.
   */
  private documented(node: ts.TypeNode): Shape {
    const alias = ts.isTypeReferenceNode(node) && ts.isIdentifier(node.typeName) ? this.aliases.get(node.typeName.text) : undefined;
    const union = alias && ts.isUnionTypeNode(alias.type) ? alias.type : undefined;
    if (union?.types.some((t) => t.kind === ts.SyntaxKind.AnyKeyword)) {
      const rest = union.types.filter((t) => t.kind !== ts.SyntaxKind.AnyKeyword);
      if (rest.length === 0) return { kind: 'any' };
      const shapes = rest.map((t) => this.shapeOf(this.checker.getTypeFromTypeNode(t)));
      return shapes.length === 1 ? shapes[0] : { kind: 'union', options: shapes };
    }
    return this.shapeOf(this.checker.getTypeFromTypeNode(node));
  }

  /** Call paths of the `ApiClient` class, by the `…Call` type they name (`GetServiceCall` → `get.service`). */
  callPaths(): Map<string, string> {
    const out = new Map<string, string>();
    const cls = this.classes.get('ApiClient');
    if (!cls) return out;
    const walk = (node: ts.TypeNode, at: string) => {
      if (ts.isTypeReferenceNode(node) && ts.isIdentifier(node.typeName) && node.typeName.text.endsWith('Call')) out.set(node.typeName.text, at);
      else if (ts.isIntersectionTypeNode(node)) for (const t of node.types) walk(t, at);
      else if (ts.isTypeLiteralNode(node)) {
        for (const m of node.members) if (ts.isPropertySignature(m) && m.type && m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name))) walk(m.type, `${at}.${m.name.text}`);
      }
    };
    for (const m of cls.members) if (ts.isPropertyDeclaration(m) && m.type && ts.isIdentifier(m.name)) walk(m.type, m.name.text);
    return out;
  }

  private shapeOf(type: ts.Type): Shape {
    const cached = this.cache.get(type);
    if (cached) return cached;
    const f = type.flags;
    const F = ts.TypeFlags;
    if (f & (F.Any | F.Unknown)) return { kind: 'any' };
    if (f & F.Never) return { kind: 'never' };
    if (f & F.StringLiteral) return { kind: 'literal', value: (type as ts.StringLiteralType).value };
    if (f & F.NumberLiteral) return { kind: 'literal', value: (type as ts.NumberLiteralType).value };
    if (f & F.BooleanLiteral) return { kind: 'literal', value: (type as unknown as { intrinsicName: string }).intrinsicName === 'true' };
    if (f & F.String) return { kind: 'string' };
    if (f & F.Number) return { kind: 'number' };
    if (f & F.Boolean) return { kind: 'boolean' };
    if (f & F.Null) return { kind: 'null' };
    if (f & (F.Undefined | F.Void)) return { kind: 'undefined' };
    if (type.isUnion()) {
      let options = type.types.map((t) => this.shapeOf(t));
      // `boolean` is `true | false` to the compiler: give it back its name.
      const bools = options.filter((o) => o.kind === 'literal' && typeof o.value === 'boolean');
      if (bools.length === 2) options = [...options.filter((o) => !bools.includes(o)), { kind: 'boolean' }];
      return options.length === 1 ? options[0] : { kind: 'union', options };
    }
    if (this.checker.isArrayType(type) || this.checker.isTupleType(type)) {
      const args = this.checker.getTypeArguments(type as ts.TypeReference);
      const shape: Shape = { kind: 'array', items: { kind: 'any' } };
      this.cache.set(type, shape);
      shape.items = args.length === 1 ? this.shapeOf(args[0]) : { kind: 'any' };
      return shape;
    }
    if (f & F.Object || type.isIntersection()) {
      const shape: Extract<Shape, { kind: 'object' }> = { kind: 'object', props: {} };
      this.cache.set(type, shape); // before the properties: a type may contain itself
      for (const prop of this.checker.getPropertiesOfType(type)) {
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        let propShape = this.shapeOf(this.checker.getTypeOfSymbol(prop));
        if (optional && propShape.kind === 'union') {
          const defined = propShape.options.filter((o) => o.kind !== 'undefined');
          propShape = defined.length === 1 ? defined[0] : { kind: 'union', options: defined };
        }
        shape.props[prop.name] = { shape: propShape, optional };
      }
      const index = this.checker.getIndexInfosOfType(type).find((i) => i.keyType.flags & F.String);
      if (index) shape.index = this.shapeOf(index.type);
      // A map keyed by any name is declared with one optional example key (a runtime environment's details
      // by `MY_VARIABLE_NAME`, its files by `/dir/fileName`): check every entry against the example's shape.
      const keys = Object.keys(shape.props);
      if (!index && keys.length === 1 && EXAMPLE_KEYS.has(keys[0]) && shape.props[keys[0]].optional) {
        shape.index = shape.props[keys[0]].shape;
        shape.props = {};
      }
      return shape;
    }
    return { kind: 'any' };
  }
}

/** The example keys the generated declarations stand for "any name" with. */
const EXAMPLE_KEYS = new Set(['MY_VARIABLE_NAME', '/dir/fileName']);

let reader: DeclarationReader | undefined;
/** The reader over `@northflank/js-client`'s declarations (built once: the file is large). */
export function clientDeclarations(): DeclarationReader {
  reader ??= new DeclarationReader(DTS);
  return reader;
}

/** Every endpoint class the client exports, with the method and URL template its own code builds. */
export function clientEndpoints(): ClientEndpoint[] {
  const calls = clientDeclarations().callPaths();
  // A parameters object that answers every name with its placeholder, and has no `teamId` (the team-less URL).
  const params = new Proxy({}, { get: (_t, k) => (typeof k === 'string' ? `\u0000${k}\u0000` : undefined), has: (_t, k) => k !== 'teamId' });
  const out: ClientEndpoint[] = [];
  for (const [name, Endpoint] of Object.entries(nf)) {
    if (!name.endsWith('Endpoint') || typeof Endpoint !== 'function') continue;
    let e: { method?: string; endpointUrl?: (o: unknown) => string };
    try {
      e = new (Endpoint as new (ctx: unknown) => typeof e)({});
    } catch {
      continue;
    }
    if (typeof e.endpointUrl !== 'function' || !e.method) continue;
    // eslint-disable-next-line no-control-regex -- the NUL marks placed around each parameter's name above
    const route = decodeURIComponent(e.endpointUrl({ parameters: params, options: {} }).split('?')[0]).replace(/\u0000(\w+)\u0000/g, ':$1');
    out.push({ name, method: e.method.toUpperCase(), route, call: calls.get(name.replace(/Endpoint$/, 'Call')) });
  }
  return out;
}
