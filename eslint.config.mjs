// `npm run lint`: ESLint's and typescript-eslint's recommended rules over the platform, its tests, benchmarks,
// scripts and the dashboard. A name that starts with `_` is one left unused on purpose (a destructured field
// left out of a copy, a parameter a signature needs); an empty `catch {}` is a failure deliberately ignored
// (a process already gone, a file not there). `any` is left to review: the type checker runs in strict mode,
// and what is `any` (a Kysely migration's schema, a JSON body in a test) is so on purpose.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The folders of src/ (main.ts alone names concrete drivers and dialects, and may import any of them). */
const LAYERS = ['addons', 'api', 'autoscaler', 'builds', 'cli', 'config', 'controllers', 'domain', 'errors', 'files', 'flows', 'jobs', 'leases', 'net', 'observe', 'probes', 'replicas', 'router', 'runtime', 'secrets', 'services', 'store', 'tags', 'volumes'];

/**
 * The arrows point inward (docs/development.md): a folder of src/ may import only these others. A relative
 * import that climbs out of the folder (`../` and more) into any other fails the lint.
 */
function onlyImports(folder, allowed, why) {
  const others = LAYERS.filter((l) => l !== folder && !allowed.includes(l));
  return {
    files: [`src/${folder}/**/*.{ts,mjs}`],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: `^(\\.\\./)+(${others.join('|')})/`, message: `${folder}/ ${why}` }] }] },
  };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'web/dist/**', '**/*.d.mts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // A variable declared before the closures that use it and assigned once later (main.ts's queues).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  onlyImports('domain', ['errors'], 'and errors/ import nothing else of ours'),
  onlyImports('errors', [], 'imports nothing else of ours'),
  onlyImports('store', ['domain', 'errors'], 'sees only domain/ and errors/'),
  onlyImports('runtime', ['domain', 'errors', 'net'], 'sees domain/, errors/ and the driver interface: never the store'),
  onlyImports('router', ['domain', 'errors', 'files', 'net'], 'sees domain/, errors/ and its own types; controllers hand it its inputs'),
  onlyImports('probes', ['domain', 'errors'], 'sees domain/, errors/ and its own types; controllers hand it its inputs'),
  onlyImports('cli', [], 'knows only the HTTP API'),
  {
    files: ['web/src/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+src/', message: 'the dashboard knows only the HTTP API and the types generated from /openapi.json' }] }] },
  },
  {
    // JavaScript run by Node: the supervisor, scripts, the bench's instance host, test helpers.
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: globals.node },
  },
  {
    // The fixture apps are what a user deploys: plain CommonJS Node programs.
    files: ['test/fixtures/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
