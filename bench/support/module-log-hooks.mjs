// Module resolution hooks (they run on Node's loader thread): append each resolved file module to
// the log file, one URL per line (with the build's bundle, those are dist/'s chunks).
import { appendFileSync } from 'node:fs';

const log = process.env.KDEBUG_BENCH_MODULE_LOG;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (log && resolved.url.startsWith('file:')) appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}
