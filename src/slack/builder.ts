// The command builder: `/kdebug` with no arguments opens a modal to pick the namespace, the target
// (typed ahead from the inventory), the check and its arguments. What it submits is turned into the
// command text a person would type, and from there it is a typed command like any other.
import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { AnyCheck, CheckRegistry } from '../checks/index.js';
import type { Inventory } from '../core/inventory.js';
import { clip, plural } from '../core/text.js';

export const BUILDER_CALLBACK = 'kdebug_builder';
/** The modal's "Show the command" button. */
export const PREVIEW_ACTION = 'kdebug_builder_preview';
/** Block and action ids (the same for each input): what view_submission and block_suggestion carry. */
export const FIELD = { cluster: 'cluster', namespace: 'namespace', target: 'target', check: 'check', args: 'args', all: 'all' } as const;

const option = (text: string, value: string, description?: string): PlainTextOption => ({
  text: { type: 'plain_text', text: clip(text, 75) },
  // Names are at most 63 (namespaces) or 253 characters; Slack takes 150 in a value.
  value: value.slice(0, 150),
  ...(description ? { description: { type: 'plain_text', text: clip(description, 75) } } : {}),
});

/** The modal; `channel` (where the command was typed) rides in private_metadata to where the result goes. */
export function builderView(
  checks: CheckRegistry,
  opts: { channel: string; defaultNamespace: string; command?: string; clusters?: readonly string[]; defaultCluster?: string },
): ModalView {
  const checkOptions = [...checks].map(([key, check]: [string, AnyCheck]) => option(key, key, check.summary));
  const clusterOptions = (opts.clusters ?? []).map((name) => option(name, name));
  const initialCluster = clusterOptions.find((o) => o.value === opts.defaultCluster) ?? clusterOptions[0];
  const blocks: KnownBlock[] = [
    // Only when there is a choice: one cluster needs no question.
    ...(clusterOptions.length > 1
      ? [
          {
            type: 'input',
            block_id: FIELD.cluster,
            label: { type: 'plain_text', text: 'Cluster' },
            element: { type: 'static_select', action_id: FIELD.cluster, options: clusterOptions, ...(initialCluster ? { initial_option: initialCluster } : {}) },
          } as KnownBlock,
        ]
      : []),
    {
      type: 'input',
      block_id: FIELD.namespace,
      label: { type: 'plain_text', text: 'Namespace' },
      element: { type: 'external_select', action_id: FIELD.namespace, min_query_length: 0, initial_option: option(opts.defaultNamespace, opts.defaultNamespace) },
    },
    {
      type: 'input',
      block_id: FIELD.target,
      label: { type: 'plain_text', text: 'Pod or workload' },
      hint: { type: 'plain_text', text: 'Type a few letters; workloads (deployment/…) come first.' },
      element: { type: 'external_select', action_id: FIELD.target, min_query_length: 0, placeholder: { type: 'plain_text', text: 'web-7f9c or deployment/web' } },
    },
    {
      type: 'input',
      block_id: FIELD.check,
      label: { type: 'plain_text', text: 'Check' },
      element: {
        type: 'static_select',
        action_id: FIELD.check,
        options: checkOptions,
        ...(checkOptions[0] ? { initial_option: checkOptions.find((o) => o.value === 'dns') ?? checkOptions[0] } : {}),
      },
    },
    {
      type: 'input',
      block_id: FIELD.args,
      optional: true,
      label: { type: 'plain_text', text: 'Arguments' },
      hint: { type: 'plain_text', text: 'What the check takes after the target, e.g. a name for dns, a URL for http.' },
      element: { type: 'plain_text_input', action_id: FIELD.args, placeholder: { type: 'plain_text', text: 'payments.prod.svc.cluster.local' } },
    },
    {
      type: 'input',
      block_id: FIELD.all,
      optional: true,
      label: { type: 'plain_text', text: 'Pods' },
      element: {
        type: 'checkboxes',
        action_id: FIELD.all,
        options: [{ text: { type: 'plain_text', text: 'Every pod of the workload (--all)' }, value: 'all' }],
      },
    },
    {
      type: 'actions',
      block_id: 'preview',
      elements: [{ type: 'button', action_id: PREVIEW_ACTION, text: { type: 'plain_text', text: 'Show the command' } }],
    },
    {
      type: 'context',
      block_id: 'command',
      elements: [
        {
          type: 'mrkdwn',
          text: opts.command
            ? `The same as typing \`/kdebug ${clip(opts.command.replace(/`/g, "'"), 2900)}\``
            : 'Every choice here is a command you could type; *Show the command* shows it, so next time typing it is enough.',
        },
      ],
    },
  ];
  return {
    type: 'modal',
    callback_id: BUILDER_CALLBACK,
    private_metadata: opts.channel,
    title: { type: 'plain_text', text: 'kdebug' },
    submit: { type: 'plain_text', text: 'Run' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

/** Slack's view_submission state: { block_id: { action_id: { value | selected_option | selected_options } } }. */
export type ViewState = Record<string, Record<string, { value?: string | null; selected_option?: { value: string } | null; selected_options?: Array<{ value: string }> }>>;

/** The command text the builder's values stand for: `dns deployment/web payments -n prod --all`. */
export function builderCommand(state: ViewState): string {
  const pick = (field: string) => state[field]?.[field];
  const namespace = pick(FIELD.namespace)?.selected_option?.value ?? '';
  const target = pick(FIELD.target)?.selected_option?.value ?? '';
  const check = pick(FIELD.check)?.selected_option?.value ?? '';
  const args = (pick(FIELD.args)?.value ?? '').trim();
  const all = (pick(FIELD.all)?.selected_options ?? []).some((o) => o.value === 'all');
  const cluster = pick(FIELD.cluster)?.selected_option?.value;
  // Flags before the free text: after a `--` in it they would be arguments.
  return [check, target, namespace ? `-n ${namespace}` : '', cluster ? `--cluster ${cluster}` : '', all ? '--all' : '', args].filter(Boolean).join(' ');
}

/**
 * What was typed, as an option of its own when the inventory does not list it: the inventory can
 * be incomplete (no permission to list pods everywhere, a pod newer than the last refresh), and an
 * external select only takes what is offered. The grammar checks the value on submission.
 */
function asTyped(typed: string, listed: readonly PlainTextOption[]): PlainTextOption[] {
  const value = typed.trim();
  // Only when nothing listed matches: while a listed name is being typed, it would be noise.
  if (!value || listed.length > 0) return [];
  return [option(value, value, 'as typed')];
}

/** At most 100 options (Slack's limit), those containing what was typed. */
export function namespaceOptions(inventory: Inventory | undefined, typed: string): PlainTextOption[] {
  const listed = Object.keys(inventory?.namespaces ?? {})
    .filter((ns) => ns.includes(typed.trim().toLowerCase()))
    .sort()
    .map((ns) => option(ns, ns, plural(inventory!.namespaces[ns]!.pods.length, 'pod')));
  return [...listed, ...asTyped(typed, listed)].slice(0, 100);
}

/** Workloads first, then pods (with phase and node), those containing what was typed. */
export function targetOptions(inventory: Inventory | undefined, namespace: string, typed: string): PlainTextOption[] {
  const entry = inventory?.namespaces[namespace];
  const wanted = typed.trim().toLowerCase();
  const workloads = (entry?.workloads ?? []).filter((w) => w.includes(wanted)).map((w) => option(w, w));
  const pods = (entry?.pods ?? []).filter((p) => p.name.includes(wanted)).map((p) => option(p.name, p.name, [p.phase, p.node].filter(Boolean).join(' · ')));
  const listed = [...workloads, ...pods];
  return [...listed.slice(0, 99), ...asTyped(typed, listed)];
}
