// `kdebug run`: the same checks without Slack, against the current kubeconfig's cluster or, with
// --local, on this machine. Exit codes: 0 for ok/open, 1 for any other verdict or a failure,
// 2 for bad usage.
import { randomBytes } from 'node:crypto';
import { checks, type AnyCheck } from '../checks/index.js';
import type { CheckContext, Finding, Step } from '../checks/types.js';
import { parseTokens, type DiagnosticRequest } from '../grammar/parse.js';
import { checkHelp, generalHelp } from '../grammar/help.js';
import { defaultTimeoutFor, loadConfig } from '../config/load.js';
import { runLocal } from '../runner/local.js';
import { runInPod, type PodStepsRun } from '../runner/pod.js';
import { compareAllPods, runOnAllPods } from '../runner/fanout.js';
import type { Config } from '../config/schema.js';
import { describeTarget, type Target } from '../core/target.js';
import { createKubeClients } from '../kube/client.js';
import { UserFacingError } from '../core/errors.js';
import { debugContainerName } from '../core/debug-container.js';
import { comparisonJson, comparisonText, exitCodeFor, exitCodeForComparison, failureJson, findingJson, findingText } from './report.js';

export const RUN_USAGE = `Usage:
  kdebug run <check> <target> [args…] [-n NAMESPACE] [-c CONTAINER] [--timeout 30s] [--json]
  kdebug run <check> deploy/NAME --all [args…] […]      (or -l SELECTOR instead of the target)
  kdebug run <check> --local [args…] [--json]

Runs a check in a pod of the cluster your kubeconfig points at (adding one ephemeral debug
container), with --all in every pod of a workload and compares them, or with --local on this
machine. --json prints one JSON object. Exit code 0 when the verdict is ok/open (with --all: every
pod's), 1 for any other verdict, 2 for bad usage.
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
  const config = loadConfig({ env });
  const limits = { maxTimeoutSeconds: config.jobs.maxTimeoutSeconds };
  const parsed = parseTokens(rest, checks, { local, ...limits });
  if (parsed.kind === 'help') {
    const check = parsed.check ? checks.get(parsed.check) : undefined;
    io.out(check ? `${checkHelp(check, limits)}\n\n${RUN_USAGE}` : `${RUN_USAGE}\n${generalHelp(checks, limits)}\n`);
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
  const check = checks.get(parsed.request.check)!;
  const args = check.parseArgs(parsed.request.positional, parsed.request.options);
  if (!args.ok) {
    io.err(`kdebug run: ${args.message}\n`);
    return 2;
  }
  const timeoutSeconds = parsed.request.timeoutSeconds ?? defaultTimeoutFor(config, check);
  const context: CheckContext = { settings: config.checks, now: new Date(), secondsLeft: timeoutSeconds };
  const steps = check.steps(args.args, context);

  if (parsed.kind === 'request' && parsed.request.all) {
    return runOnAll(parsed.request, check, args.args, { config, timeoutSeconds, context, json }, io);
  }

  let finding: Finding;
  let note: string | undefined;
  // A check with an output decoder (capture) writes its artifact to a file in the current
  // directory, named in the report; none when it holds nothing (a capture without packets).
  const output = check.decoder
    ? {
        decoder: check.decoder,
        maxBytes: check.decoder.maxBytes(context),
        path: `kdebug-${check.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.${check.decoder.extension}`,
      }
    : undefined;
  let artifactFile: string | undefined;
  try {
    if (parsed.kind === 'local') {
      io.progress(`running ${check.name} on this machine…`);
      const { results, artifact } = await runLocal({ steps, timeoutSeconds, ...(output ? { output } : {}) });
      artifactFile = artifact?.path;
      finding = check.interpret(args.args, results, { ...context, now: new Date() });
    } else {
      const request = parsed.request;
      const kube = createKubeClients(config, undefined, request.cluster);
      const run = podRun(request, check, steps, config, timeoutSeconds);
      const { namespace } = run;
      const result = await runInPod(kube, {
        ...run,
        ...(output ? { output } : {}),
        onPodPicked: (text) => io.progress(text),
        onProgress: (status) => io.progress(status),
      });
      artifactFile = result.artifact?.path;
      finding = check.interpret(args.args, result.results, { ...context, now: new Date() });
      note = `pod ${result.pod} in ${namespace} · container ${result.targetContainer} · debug container ${result.containerName}`;
    }
  } catch (err) {
    const failure = err instanceof UserFacingError ? err : new UserFacingError((err as Error)?.message ?? String(err), 'internal');
    if (json) io.out(`${failureJson(check.name, failure.message, failure.kind)}\n`);
    else io.err(`kdebug run: ${failure.message}\n`);
    return 1;
  }
  // Named after the extension: `pcapFile` for a capture.
  if (artifactFile && check.decoder) finding = { ...finding, facts: { ...finding.facts, [`${check.decoder.extension}File`]: artifactFile } };
  io.out(json ? `${findingJson(finding)}\n` : findingText(finding, note));
  return exitCodeFor(finding);
}

/** `--all`: the check in every pod of the workload, one comparison printed. */
async function runOnAll(
  request: DiagnosticRequest,
  check: AnyCheck,
  args: unknown,
  { config, timeoutSeconds, context, json }: { config: Config; timeoutSeconds: number; context: CheckContext; json: boolean },
  io: Io,
): Promise<number> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const run = podRun(request, check, check.steps(args, context), config, timeoutSeconds);
  const { namespace } = run;
  try {
    const kube = createKubeClients(config, undefined, request.cluster);
    const outcome = await runOnAllPods(kube, {
      ...run,
      maxPods: config.fanout.maxPods,
      maxParallel: config.fanout.maxParallel,
      // A capture's pcap per pod, in the current directory.
      outputFor: (pod, pods) =>
        check.decoder
          ? { decoder: check.decoder, maxBytes: Math.floor(check.decoder.maxBytes(context) / pods), path: `kdebug-${check.name}-${pod}-${stamp}.${check.decoder.extension}` }
          : undefined,
      onProgress: (status) => io.progress(status),
    });
    const { comparison, pods } = compareAllPods(check, args, outcome, () => ({ ...context, now: new Date() }));
    const withFiles = pods.map((pod, i) => {
      const artifact = outcome.pods[i]?.result?.artifact;
      return artifact && pod.finding && check.decoder
        ? { ...pod, finding: { ...pod.finding, facts: { ...pod.finding.facts, [`${check.decoder.extension}File`]: artifact.path } } }
        : pod;
    });
    const sample = [outcome.sample, outcome.zonesProblem].filter(Boolean).join('; ');
    io.out(json ? `${comparisonJson(check.name, describeTarget(request.target), namespace, sample, comparison, withFiles)}\n` : comparisonText(comparison, sample, withFiles));
    return exitCodeForComparison(comparison);
  } catch (err) {
    const failure = err instanceof UserFacingError ? err : new UserFacingError((err as Error)?.message ?? String(err), 'internal');
    if (json) io.out(`${failureJson(check.name, failure.message, failure.kind)}\n`);
    else io.err(`kdebug run: ${failure.message}\n`);
    return 1;
  }
}

/** What a terminal run gives its pod (or pods): a debug container of its own, deadline from now. */
function podRun(request: DiagnosticRequest, check: AnyCheck, steps: Step[], config: Config, timeoutSeconds: number): PodStepsRun & { target: Target } {
  return {
    namespace: request.namespace ?? config.kubernetes.defaultNamespace,
    target: request.target,
    ...(request.container ? { container: request.container } : {}),
    containerName: debugContainerName(randomBytes(8).toString('hex')),
    image: config.kubernetes.debugImage,
    imagePullPolicy: config.kubernetes.imagePullPolicy,
    capabilities: check.capabilities,
    steps,
    timeoutSeconds,
    deadline: Date.now() + timeoutSeconds * 1000,
    maxLogBytes: config.kubernetes.maxLogBytes,
  };
}
