// `kdebug run`: the same checks without Slack, against the current kubeconfig's cluster or, with
// --local, on this machine. Exit codes: 0 for ok/open, 1 for any other verdict or a failure,
// 2 for bad usage.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { decodeCaptureLogSync } from '../checks/pcap-stream.js';
import { checks } from '../checks/index.js';
import { DEFAULT_CHECK_SETTINGS, type CheckContext, type Finding } from '../checks/types.js';
import { parseTokens } from '../grammar/parse.js';
import { checkHelp, generalHelp } from '../grammar/help.js';
import { defaultTimeoutFor, loadConfig } from '../config/load.js';
import { runLocally } from '../runner/local.js';
import { runInPod } from '../runner/pod.js';
import { createKubeClients } from '../kube/client.js';
import { UserFacingError } from '../kube/errors.js';
import { debugContainerName } from '../queue/job.js';
import { failureJson, findingJson, findingText, GOOD_VERDICTS } from './report.js';

export const RUN_USAGE = `Usage:
  kdebug run <check> <target> [args…] [-n NAMESPACE] [-c CONTAINER] [--timeout 30s] [--json]
  kdebug run <check> --local [args…] [--json]

Runs a check in a pod of the cluster your kubeconfig points at (adding one ephemeral debug
container), or with --local on this machine. --json prints one JSON object. Exit code 0 when the
verdict is ok/open, 1 for any other verdict, 2 for bad usage.
`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress lines while waiting; only shown on a terminal and never in --json output. */
  progress: (text: string) => void;
}

/** Splits kdebug run's own flags (--json, --local) from the command; only before a bare `--`. */
function ownFlags(argv: string[]): { json: boolean; local: boolean; rest: string[] } {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const tail = end === -1 ? [] : argv.slice(end);
  return { json: head.includes('--json'), local: head.includes('--local'), rest: [...head.filter((a) => a !== '--json' && a !== '--local'), ...tail] };
}

export async function runCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { json, local, rest } = ownFlags(argv);
  const parsed = parseTokens(rest, checks, { local });
  if (parsed.kind === 'help') {
    const check = parsed.check ? checks.get(parsed.check) : undefined;
    io.out(check ? `${checkHelp(check)}\n\n${RUN_USAGE}` : `${RUN_USAGE}\n${generalHelp(checks)}\n`);
    return rest.length === 0 ? 2 : 0;
  }
  if (parsed.kind === 'usage') {
    io.err(`kdebug run: ${parsed.message.replace(/`\/kdebug /g, '`kdebug run ')}\n`);
    return 2;
  }
  if (parsed.kind === 'cancel') {
    io.err('kdebug run: cancel is a Slack command (/kdebug cancel <job id>); stop a terminal run with Ctrl-C\n');
    return 2;
  }
  const config = loadConfig({ env });
  const check = checks.get(parsed.request.check)!;
  const args = check.parseArgs(parsed.request.positional, parsed.request.options);
  if (!args.ok) {
    io.err(`kdebug run: ${args.message}\n`);
    return 2;
  }
  const timeoutSeconds = parsed.request.timeoutSeconds ?? defaultTimeoutFor(config, check.name);
  const context: CheckContext = { settings: { ...DEFAULT_CHECK_SETTINGS, ...config.checks }, now: new Date() };
  const steps = check.steps(args.args, context);

  let finding: Finding;
  let note: string | undefined;
  // A capture's packets go to a file in the current directory, named in the report.
  const pcapFile = check.streamsPcap ? `kdebug-${check.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.pcap` : undefined;
  try {
    if (parsed.kind === 'local') {
      io.progress(`running ${check.name} on this machine…`);
      const results = await runLocally(steps, timeoutSeconds);
      if (pcapFile) {
        const pcap = Buffer.concat(results.map((r) => decodeCaptureLogSync(r.output, { maxBytes: context.settings.captureMaxBytes }).pcap));
        if (pcap.length > 0) writeFileSync(pcapFile, pcap);
      }
      finding = check.interpret(args.args, results, { ...context, now: new Date() });
    } else {
      const request = parsed.request;
      const namespace = request.namespace ?? config.kubernetes.defaultNamespace;
      const kube = createKubeClients(config);
      const result = await runInPod(kube, {
        namespace,
        target: request.target,
        container: request.container,
        containerName: debugContainerName(randomBytes(8).toString('hex')),
        image: config.kubernetes.debugImage,
        imagePullPolicy: config.kubernetes.imagePullPolicy,
        capabilities: check.capabilities,
        steps,
        timeoutSeconds,
        deadline: Date.now() + timeoutSeconds * 1000,
        maxLogBytes: config.kubernetes.maxLogBytes,
        ...(pcapFile ? { pcap: { path: pcapFile, maxBytes: context.settings.captureMaxBytes } } : {}),
        onPodPicked: (text) => io.progress(text),
        onProgress: (status) => io.progress(status),
      });
      finding = check.interpret(args.args, result.results, { ...context, now: new Date() });
      note = `pod ${result.pod} in ${namespace} · container ${result.targetContainer} · debug container ${result.containerName}`;
    }
  } catch (err) {
    const failure = err instanceof UserFacingError ? err : new UserFacingError((err as Error)?.message ?? String(err), 'internal');
    if (json) io.out(`${failureJson(check.name, failure.message, failure.kind)}\n`);
    else io.err(`kdebug run: ${failure.message}\n`);
    return 1;
  }
  if (pcapFile && existsSync(pcapFile) && statSync(pcapFile).size > 0) {
    finding = { ...finding, facts: { ...finding.facts, pcapFile } };
  } else if (pcapFile) {
    rmSync(pcapFile, { force: true });
  }
  io.out(json ? `${findingJson(finding)}\n` : findingText(finding, note));
  return GOOD_VERDICTS.has(finding.verdict) ? 0 : 1;
}
