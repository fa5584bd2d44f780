// Module hooks (they run on Node's loader thread) that let a benchmark load the TypeScript test
// support (the Slack emulator) without a build: `./x.js` resolves to `./x.ts` when only that exists,
// and .ts files lose their types through node's own stripTypeScriptTypes (nothing checked; tsc
// does that in `npm test`). Registered by bench code with module.register(); test code only.
//
// Not the TypeScript compiler: loaded, it made the benchmark's process about 80 MB larger, and the
// simulated kubelet's every spawn (a fork of this process) about twice as slow. Node's own
// `transform` mode, because the emulators use parameter properties, which plain type stripping
// refuses; it warns once that it is experimental.
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const fromTs = context.parentURL?.endsWith('.ts');
    if (!fromTs || !/^\.\.?\/.*\.js$/.test(specifier) || err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return nextResolve(specifier.replace(/\.js$/, '.ts'), context);
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const text = await readFile(new URL(url), 'utf8');
  return { format: 'module', source: stripTypeScriptTypes(text, { mode: 'transform' }), shortCircuit: true };
}
