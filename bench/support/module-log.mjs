// Preload for benchmarks (node --import ./bench/support/module-log.mjs): records every package a
// process loads (the bundle's chunks), one resolved URL per line, into the file named by
// KDEBUG_BENCH_MODULE_LOG.
import { register } from 'node:module';

if (process.env.KDEBUG_BENCH_MODULE_LOG) register('./module-log-hooks.mjs', import.meta.url);
