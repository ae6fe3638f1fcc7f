// Type-aware lint for the TypeScript sources (plugins/, test/). Formatting is prettier's alone
// (package.json "prettier"); nothing here overlaps it. Stage-folder ranks and file cycles are
// dependency-cruiser's (.dependency-cruiser.mjs).
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import js from '@eslint/js'
import { defineConfig, includeIgnoreFile } from 'eslint/config'
import tseslint from 'typescript-eslint'

// Haraka writes built-ins with the node: prefix (its contributor guide asks for it); a bare 'fs'
// could also resolve to a same-named package from npm.
const bareBuiltins = builtinModules
  .filter((name) => !name.startsWith('_') && !name.startsWith('node:'))
  .map((name) => ({ name, message: `import 'node:${name}' instead` }))

// node:test's describe/it/test return promises that the runner itself awaits; every other
// promise must still be awaited, returned or voided.
const nodeTestCalls = {
  from: 'package',
  package: 'node:test',
  name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
}

export default defineConfig(
  // .gitignore names the compiled output beside the sources: lint the .ts, never its output
  includeIgnoreFile(join(import.meta.dirname, '.gitignore')),
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Haraka's own additions to eslint:recommended (Haraka/eslint.config.mjs, @haraka/eslint-config)
      'prefer-template': 'error',
      'no-unneeded-ternary': 'error',
      eqeqeq: ['error', 'smart'],
      'no-restricted-imports': ['error', { paths: bareBuiltins }],
      'no-param-reassign': 'error',
      'no-implicit-coercion': 'error',
      'object-shorthand': 'error',
      radix: 'error',

      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/consistent-type-exports': 'error',
      // what a module offers says its types; inside, inference is enough
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/prefer-readonly': 'error',
      '@typescript-eslint/require-array-sort-compare': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'all', argsIgnorePattern: '^_', caughtErrors: 'all', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [nodeTestCalls] }],
      // Haraka's hooks end in `return next(...)`: next() returns void and so does the hook, and
      // `(x) => log(x)` callbacks are everywhere; what the rule is for (using a void value in an
      // expression) stays an error.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      // a number prints exactly in a template; undefined, null, booleans and objects stay errors
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `import X = require('x')` is TypeScript's typed import of a CommonJS `export =` module
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // it would turn `as T` into `!`, which no-non-null-assertion forbids
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
    },
  },
  {
    // Inside Haraka a plugin logs through Haraka's logger (this.loginfo and the like); only the
    // try command, a program of its own, writes to the terminal.
    files: ['plugins/**/*.ts'],
    ignores: ['plugins/pipe_transport/tools/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // node:test: `let haraka: Haraka` is assigned in before() and used by every test, so it is typed
    // as assigned; after() must still cope with a before() that threw (`haraka?.stop()`), or a
    // Haraka started there is left running. Type-wise that check is "unnecessary".
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-condition': 'off' },
  },
  {
    // Declarations describe other packages' shapes as they are (haraka-dsn is a class of statics).
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/no-extraneous-class': 'off' },
  },
  {
    // the tools' own config files: plain JavaScript, outside tsconfig.json
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
)
