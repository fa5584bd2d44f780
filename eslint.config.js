// ESLint: typescript-eslint's type-checked rules over src/, test/ and bench/, and the import
// layering of src/ (see LAYERS). Formatting is Prettier's job (.prettierrc): eslint-config-prettier
// comes last and turns off every rule that would fight it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, bottom to top. A module may import from its own folder and from folders in
 * lower layers, never from a higher layer nor from another folder of its own layer (worker/ and
 * bot/ are the two roles: neither may import the other). Every folder under src/ with a .ts file
 * must be listed here (test/static/layers.test.ts checks that, and that the rule fires).
 */
const LAYERS = [
  ['core'], // shared domain types and helpers: target, durations, text, host validation, errors, names
  ['checks'], // pure: builds argv and reads output, no I/O (see CHECKS_FORBIDDEN_MODULES)
  ['config'],
  ['grammar'],
  ['observability'],
  ['kube'],
  ['runner'],
  ['policy'],
  ['queue'],
  ['slack'], // renderers and the Web API adapter
  ['delivery'],
  ['worker', 'bot'], // the two roles
  ['cli', 'playground'], // with src/cli.ts, the top: `kdebug run` and `kdebug playground` (the emulators, a Slack stand-in page)
];

/** Node modules that do I/O: checks/ only builds commands and interprets their output. */
const CHECKS_FORBIDDEN_MODULES = ['fs', 'fs/promises', 'child_process', 'https', 'dgram'];
const PURE_MESSAGE = 'checks/ is pure (no I/O): take what you need as an argument, and let runner/ or worker/ do the I/O.';

/** Imports that src/<folder>/ may not make beyond the layering. */
const EXTRA_RESTRICTIONS = {
  checks: [
    { regex: `^(?:node:)?(?:${CHECKS_FORBIDDEN_MODULES.join('|')})$`, message: PURE_MESSAGE },
    // node:http's table of reason phrases is data; its servers and clients are I/O.
    { regex: '^(?:node:)?http$', allowImportNames: ['STATUS_CODES'], message: PURE_MESSAGE },
  ],
  bot: [
    {
      regex: '^@kubernetes/client-node(?:/|$)',
      message: 'The bot never talks to Kubernetes: the worker does, through kube/.',
    },
  ],
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * How the layering is enforced: ESLint's built-in no-restricted-imports, one override per folder,
 * each forbidding the relative specifiers that climb out of the folder (`../`, `../../`…) into a
 * folder of a higher (or the same) layer, into test/ (production code never imports test code),
 * or the extra modules above. Chosen over eslint-plugin-boundaries and import-x/no-restricted-paths
 * because it needs no import resolver: those resolve `../x/y.js` to a file first, and a resolver
 * that does not know NodeNext's `.js` → `.ts` mapping silently resolves nothing and so reports
 * nothing. Matching the specifier text cannot fail that way; its limits are that it does not follow
 * re-exports (a lower module re-exporting a higher one would be caught at that lower module
 * anyway) and that a nested folder named like a layer (src/kube/worker/) would be mistaken for it.
 * It covers `import`, `import type`, `export … from`; `import()` is covered by
 * no-restricted-syntax below with the same regexes.
 */
function layerRules() {
  const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((folder) => [folder, i])));
  const notTestCode = { regex: '^(?:\\.\\.?/)+(?:test|bench|scripts)(?:/|$)', message: 'src/ must not import test, bench or script code.' };
  const restrict = (name, files, patterns) => {
    for (const p of patterns) p.caseSensitive = true;
    return {
      name: `kdebug/layers/${name}`,
      files,
      rules: {
        'no-restricted-imports': ['error', { patterns }],
        'no-restricted-syntax': [
          'error',
          ...patterns.map((p) => ({
            // esquery regexes may not contain '/', so it is spelled \x2f.
            selector: `ImportExpression > Literal.source[value=/${p.regex.replaceAll('/', '\\x2f')}/]`,
            message: p.message,
          })),
        ],
      },
    };
  };
  const folders = [...layerOf].map(([folder, layer]) => {
    const above = [...layerOf].filter(([other, l]) => other !== folder && l >= layer).map(([other]) => other);
    const patterns = above.map((other) => ({
      regex: `^(?:\\.\\./)+(?:src/)?${escape(other)}(?:/|$)`,
      message:
        layerOf.get(other) === layer
          ? `${folder}/ and ${other}/ are separate roles of the same layer and must not import each other: move what both need to a lower layer.`
          : `${folder}/ (layer ${layer + 1}) must not import from ${other}/ (layer ${layerOf.get(other) + 1}): imports point down only (see LAYERS in eslint.config.js). Move what both need to a lower layer, or pass it in.`,
    }));
    return restrict(folder, [`src/${folder}/**/*.ts`], [...patterns, { ...notTestCode }, ...(EXTRA_RESTRICTIONS[folder] ?? [])]);
  });
  // src/cli.ts (and any other file directly in src/) is the top: only test code is out of reach.
  return [...folders, restrict('src-root', ['src/*.ts'], [{ ...notTestCode }])];
}

export default defineConfig(
  { name: 'kdebug/ignores', ignores: ['dist/', 'coverage/', '.tools/', 'node_modules/'] },
  // An eslint-disable comment that no longer disables anything is an error, so none outlive their reason.
  { name: 'kdebug/linter-options', linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    name: 'kdebug/typescript',
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `const { kind: _kind, ...rest } = obj` is how the code leaves a field out of a copy, and a
      // leading `_` is its mark for "deliberately unused".
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Off: every hit was an `async` function that deliberately has no `await`, kept async to fit a
      // Promise-returning interface (test fakes of Redis/Kubernetes/Slack clients, Bolt's error
      // handler, an unsubscribe callback) or to turn a throw into a rejection. Forgotten awaits,
      // the bug this rule aims at, are caught by no-floating-promises and no-misused-promises.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    name: 'kdebug/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    ignores: ['src/playground/page/**'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    // The playground's page: plain JavaScript loaded by the browser as a module (no build step).
    name: 'kdebug/playground-page',
    files: ['src/playground/page/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.browser },
  },
  {
    name: 'kdebug/commonjs',
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  ...layerRules(),
  prettier,
);
