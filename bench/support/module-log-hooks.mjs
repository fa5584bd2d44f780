// Module resolution hooks (they run on Node's loader thread): append each resolved module under
// node_modules/ to the log file.
import { appendFileSync } from 'node:fs';

const log = process.env.KDEBUG_BENCH_MODULE_LOG;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (log && resolved.url.includes('/node_modules/')) appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}
