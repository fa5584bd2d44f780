// Summarises a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes) as two tables: the
// functions with the most self time, and the files (packages grouped) with the most self time.
//
//   node bench/cpu-profile-top.mjs PROFILE.cpuprofile [--top 25] [--busiest SECONDS] [--skip SECONDS]
//
// --busiest SECONDS: only the SECONDS-long window in which the process was busiest (e.g. an
// incident-load burst inside a profile of the whole run). --skip SECONDS: leave out the profile's
// first SECONDS (a process's start-up, loading and compiling modules, can be busier than a burst).
//
// Chrome DevTools opens the same files with call trees; this is for a terminal and for notes.
// Frames in dist/'s bundle are placed in the file they came from (src/… or a package) through the
// bundle's source maps (scripts/build.mjs writes them beside each chunk).
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, busiest: { type: 'string' }, skip: { type: 'string', default: '0' } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/cpu-profile-top.mjs PROFILE.cpuprofile [--top 25] [--busiest SECONDS] [--skip SECONDS]');
  process.exit(2);
}
const TOP = Number(opts.top);
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));

// Each sample names the node that was on top of the stack; its duration is the time delta that
// follows it, and its time the sum of the deltas before it.
const sampleUs = profile.samples.map((_, i) => profile.timeDeltas[i + 1] ?? 0);
const sampleAt = [];
profile.timeDeltas.reduce((at, delta, i) => (sampleAt[i] = at + delta), profile.startTime);
const firstSample = Math.max(
  0,
  sampleAt.findIndex((at) => at >= profile.startTime + Number(opts.skip) * 1e6),
);

/** [from, to) sample indexes: all of them, or the --busiest window with the least idle time. */
function window() {
  if (opts.busiest === undefined) return [firstSample, profile.samples.length, profile.endTime - sampleAt[firstSample]];
  const spanUs = Number(opts.busiest) * 1e6;
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let best = [firstSample, firstSample, -1];
  let busy = 0;
  for (let from = firstSample, to = firstSample; from < profile.samples.length; from++) {
    for (; to < profile.samples.length && sampleAt[to] < sampleAt[from] + spanUs; to++) if (!idle.has(profile.samples[to])) busy += sampleUs[to];
    if (busy > best[2]) best = [from, to, busy];
    if (!idle.has(profile.samples[from])) busy -= sampleUs[from];
  }
  return [best[0], best[1], spanUs];
}
const [from, to, totalUs] = window();
const selfUs = new Map();
for (let i = from; i < to; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + sampleUs[i]);

const sourceMaps = new Map();
/** The source map beside a bundled file of `url`, or undefined. */
function sourceMapOf(url) {
  if (!sourceMaps.has(url)) {
    const mapFile = url.startsWith('file:') ? `${fileURLToPath(url)}.map` : '';
    sourceMaps.set(url, mapFile && existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : undefined);
  }
  return sourceMaps.get(url);
}

/** A frame's file and line as written: through the bundle's source map when it has one. */
function original({ url, lineNumber, columnNumber }) {
  const entry = url ? sourceMapOf(url)?.findEntry(lineNumber, columnNumber) : undefined;
  return entry?.originalSource ? { url: new URL(entry.originalSource, url).href, lineNumber: entry.originalLine } : { url, lineNumber };
}

/** `node_modules/@kubernetes/client-node/dist/x.js` → `@kubernetes/client-node`; our files stay as they are. */
function place(url) {
  if (!url) return '(native / V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node: (core)';
  return url.replace(/^file:\/\/.*?\/(dist|src|test)\//, '$1/');
}

const byFunction = new Map();
const byPlace = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us) continue;
  const { functionName } = node.callFrame;
  const { url, lineNumber } = original(node.callFrame);
  const where = place(url);
  const fn = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byPlace.set(where, (byPlace.get(where) ?? 0) + us);
}

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${name}`);
};
console.log(
  `${positionals[0]}: ${(totalUs / 1e6).toFixed(1)} s${opts.busiest === undefined ? '' : `, the busiest window of ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`}, ${to - from} samples`,
);
print('self time by place', byPlace);
print('self time by function', byFunction);
