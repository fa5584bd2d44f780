// Builds dist/: kdebug and the libraries it uses, bundled by esbuild into dist/cli.js and chunks
// beside it, with the playground's page copied to dist/page/ and its simulated node's container
// runtime (a program of its own) to dist/runtime-process.mjs.
//
// Why a bundle: each role loads only the chunks its own imports reach (src/cli.ts imports the
// bot's and the worker's modules dynamically), and a bundle leaves out what a library exports but
// kdebug never calls; whitespace and syntax minified, the code V8 holds is about half the size.
// Loaded file by file from node_modules, the bot idled at 104 MB and the worker at 137 MB;
// bundled, at about 90 MB each (bench/idle-memory.mjs). Names are kept (--keep-names), so stack
// traces and error names read as in src/; the linked source maps (no sources inside) map them to
// src/ lines under `node --enable-source-maps`.
//
// Every chunk sits directly in dist/, with the page and the runtime beside them, where their
// modules look for them (next to themselves, as in src/playground/); the config files are found
// from the package root (src/config/package-root.ts). dist/bundle-contents.json lists the
// packages in each chunk (bench/idle-memory.mjs reports which libraries a role loaded from it).
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist';

// Bundled CommonJS code (Bolt, ioredis, ws…) calls require() for node's own modules and for
// optional native add-ons it tries inside try/catch; an ES module has no require, __filename or
// __dirname, so each chunk gets them from its own URL.
const COMMONJS_GLOBALS = [
  "import { createRequire as __kdebugCreateRequire } from 'node:module';",
  "import { fileURLToPath as __kdebugFileURLToPath } from 'node:url';",
  'const require = __kdebugCreateRequire(import.meta.url);',
  'const __filename = __kdebugFileURLToPath(import.meta.url);',
  "const __dirname = __kdebugFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

rmSync(OUT, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: ['src/cli.ts'],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  banner: { js: COMMONJS_GLOBALS },
  metafile: true,
  logLevel: 'warning',
});

/** The npm package a bundled input file belongs to, or undefined for kdebug's own. */
function packageOf(input) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match?.[1];
}

const contents = {};
for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
  if (!output.endsWith('.js')) continue;
  const packages = new Set(Object.keys(inputs).map(packageOf).filter(Boolean));
  contents[output.slice(OUT.length + 1)] = [...packages].sort();
}
writeFileSync(`${OUT}/bundle-contents.json`, `${JSON.stringify(contents, null, 1)}\n`);
cpSync('src/playground/page', `${OUT}/page`, { recursive: true });
cpSync('src/playground/kube/runtime-process.mjs', `${OUT}/runtime-process.mjs`);
