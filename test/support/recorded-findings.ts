// Every check's recorded fixtures (test/fixtures/<check>/) interpreted by the check itself: the
// findings real tools gave, for tests that hold all checks to one standard. Triage has no fixtures
// of its own: its findings are its parts' recordings, one part varied at a time from an https run
// where everything is ok.
import { checks } from '../../src/checks/index.js';
import { TRIAGE_PART_CHECKS, type TriageArgs, type TriagePart, type TriagePartName } from '../../src/checks/triage.js';
import type { CheckContext, Finding, StepResult } from '../../src/checks/types.js';
import { recordedFixtures, type RecordedStep } from './fixtures.js';

interface Fixture extends RecordedStep {
  args?: unknown;
  settings?: CheckContext['settings'];
  now?: string;
  positional?: string[];
  options?: Record<string, string>;
  connections?: RecordedStep;
}

interface Run {
  args: unknown;
  results: StepResult[];
  context: CheckContext;
}

/** The args, step results and context a recording came from, as each check's own tests rebuild them. */
function runOf(check: string, f: Fixture): Run {
  const step = (id: string, s: RecordedStep = f): StepResult => ({ id, argv: s.command, exitCode: s.exitCode, output: s.output });
  const context: CheckContext = { settings: f.settings ?? {}, now: new Date(f.now ?? '2026-01-01T00:00:00Z') };
  switch (check) {
    case 'dns': {
      const resolv = recordedFixtures('dns').read('resolv-conf.json');
      const at = f.command.find((a) => a.startsWith('@'));
      const p = f.command.indexOf('-p');
      const server = at ? { server: { host: at.slice(1), ...(p >= 0 ? { port: Number(f.command[p + 1]) } : {}) } } : {};
      return { args: { names: [f.command[f.command.indexOf('-q') + 1] ?? ''], ...server }, results: [step('resolv.conf', resolv), step('dig-1')], context };
    }
    case 'ping':
    case 'trace':
      return { args: { host: f.command.at(-1) ?? '' }, results: [step(check === 'ping' ? 'ping' : 'traceroute')], context };
    case 'conn':
      return { args: { host: f.command.at(-2) ?? '', port: Number(f.command.at(-1)) }, results: [step('nc')], context };
    case 'tls':
    case 'http':
      return { args: f.args, results: [step(check === 'tls' ? 'openssl' : 'curl')], context };
    case 'listen':
      return { args: f.args, results: [step('listeners'), ...(f.connections ? [step('connections', f.connections)] : [])], context };
    case 'capture': {
      const parsed = checks.get('capture')!.parseArgs(f.positional ?? [], f.options ?? {});
      if (!parsed.ok) throw new Error(parsed.message);
      return { args: parsed.args, results: [step('capture')], context };
    }
    default:
      throw new Error(`no recordings for ${check}`);
  }
}

function recordings(check: string): { file: string; run: Run }[] {
  const fixtures = recordedFixtures<Fixture>(check);
  return fixtures.files.filter((file) => file !== 'resolv-conf.json').map((file) => ({ file, run: runOf(check, fixtures.read(file)) }));
}

const TRIAGE_OK: Record<TriagePartName, string> = { dns: 'ok-a.json', ping: 'ok.json', conn: 'open.json', tls: 'ok.json', http: 'ok-https.json' };

function triageFindings(): { file: string; finding: Finding }[] {
  const parts = Object.keys(TRIAGE_PART_CHECKS) as TriagePartName[];
  const ok = Object.fromEntries(parts.map((part) => [part, recordings(part).find((r) => r.file === TRIAGE_OK[part])!.run])) as Record<TriagePartName, Run>;
  return parts.flatMap((varied) =>
    recordings(varied).map(({ file, run }) => {
      const chosen = parts.map((part) => ({ part, run: part === varied ? run : ok[part] }));
      const args: TriageArgs = { parts: chosen.map(({ part, run: r }) => ({ check: part, args: r.args }) as TriagePart), skipped: [], dnsOnly: false };
      const results = chosen.flatMap(({ part, run: r }) => r.results.map((s) => ({ ...s, id: `${part}.${s.id}` })));
      return { file: `${varied}/${file}`, finding: checks.get('triage')!.interpret(args, results, ok.tls.context) };
    }),
  );
}

/** What the check made of each of its recordings (for triage: of its parts' recordings). */
export function recordedFindings(check: string): { file: string; finding: Finding }[] {
  if (check === 'triage') return triageFindings();
  const definition = checks.get(check)!;
  return recordings(check).map(({ file, run }) => ({ file, finding: definition.interpret(run.args, run.results, run.context) }));
}
