// Module hooks (they run on Node's loader thread) that let a benchmark load the TypeScript test
// support (the Slack emulator) without a build: `./x.js` resolves to `./x.ts` when only that exists,
// and .ts files are transpiled with the project's TypeScript (types dropped, nothing checked; tsc
// does that in `npm test`). Registered by bench code with module.register(); test code only.
import { readFile } from 'node:fs/promises';
import ts from 'typescript';

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
  const { outputText } = ts.transpileModule(text, {
    fileName: new URL(url).pathname,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
