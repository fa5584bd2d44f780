// The command builder's Slack side: `/kdebug` with no arguments opens the modal, its selects are
// filled from the workers' inventory in Redis (the bot never talks to Kubernetes, and Slack waits
// 3 s at most for options), and a submission runs as the command it spells, typed by the submitter.
import type { App } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { parseCommandText } from '../grammar/parse.js';
import { escapeMrkdwn } from '../core/text.js';
import { BUILDER_CALLBACK, builderCommand, builderView, FIELD, namespaceOptions, PREVIEW_ACTION, targetOptions, type ViewState } from '../slack/builder.js';
import { paced } from '../slack/pacer.js';
import { mayRun, type CommandDeps, type CommandFields, type CommandIo } from './slash-command.js';

/** The cluster a channel's commands go to when they name none. */
const defaultClusterOf = (channel: string, { config }: CommandDeps) => config.cluster.channels[channel] ?? config.cluster.name;

/** The builder's choices of cluster: those with a live worker (none to choose from with one). */
async function liveClusters(deps: CommandDeps): Promise<string[]> {
  const clusters = (await deps.clusters?.list().catch(() => [])) ?? [];
  return clusters.filter((c) => c.liveWorkers > 0).map((c) => c.name);
}

export async function openBuilder(client: WebClient, triggerId: string, channel: string, deps: CommandDeps): Promise<void> {
  const clusters = await liveClusters(deps);
  const view = builderView(deps.checks, { channel, defaultNamespace: deps.config.kubernetes.defaultNamespace, clusters, defaultCluster: defaultClusterOf(channel, deps) });
  await paced(deps.pacer, 'views.open', undefined, () => client.views.open({ trigger_id: triggerId, view }));
}

type BuilderViewPayload = { id: string; hash: string; private_metadata: string; state?: { values?: ViewState } };

/** The cluster picked in the modal, else the channel's. */
const clusterOf = (view: BuilderViewPayload | undefined, deps: CommandDeps) =>
  view?.state?.values?.[FIELD.cluster]?.[FIELD.cluster]?.selected_option?.value ?? defaultClusterOf(view?.private_metadata ?? '', deps);

/** The modal's listeners: its options and its submission. `run` handles a command as if typed. */
export function registerBuilder(app: App, deps: CommandDeps, run: (command: CommandFields, io: CommandIo) => Promise<void>): void {
  // Only namespaces (and their pods) where the policy lets this user run some check are offered.
  const mayRunSomething = async (user: string, channel: string, namespace: string, cluster: string) => {
    for (const check of deps.checks.keys()) if (await mayRun({ user_id: user, channel_id: channel }, namespace, check, deps, cluster)) return true;
    return false;
  };
  app.options(FIELD.namespace, async ({ ack, body }) => {
    const view = (body as { view?: BuilderViewPayload }).view;
    const cluster = clusterOf(view, deps);
    const inventory = await deps.inventory?.read(cluster).catch(() => undefined);
    const offered = [];
    for (const option of namespaceOptions(inventory, body.value ?? ''))
      if (await mayRunSomething(body.user.id, view?.private_metadata ?? '', option.value!, cluster)) offered.push(option);
    await ack({ options: offered });
  });
  app.options(FIELD.target, async ({ ack, body }) => {
    const view = (body as { view?: BuilderViewPayload }).view;
    const cluster = clusterOf(view, deps);
    const namespace = view?.state?.values?.[FIELD.namespace]?.[FIELD.namespace]?.selected_option?.value ?? deps.config.kubernetes.defaultNamespace;
    const allowed = await mayRunSomething(body.user.id, view?.private_metadata ?? '', namespace, cluster);
    const inventory = allowed ? await deps.inventory?.read(cluster).catch(() => undefined) : undefined;
    await ack({ options: targetOptions(inventory, namespace, body.value ?? '') });
  });
  // The equivalent typed command, shown in the modal, so people learn the syntax.
  app.action(PREVIEW_ACTION, async ({ ack, body, client }) => {
    await ack();
    const view = (body as { view?: BuilderViewPayload }).view;
    if (!view) return;
    const command = builderCommand(view.state?.values ?? {});
    const updated = builderView(deps.checks, {
      channel: view.private_metadata,
      defaultNamespace: deps.config.kubernetes.defaultNamespace,
      command,
      clusters: await liveClusters(deps),
      defaultCluster: clusterOf(view, deps),
    });
    await paced(deps.pacer, 'views.update', undefined, () => client.views.update({ view_id: view.id, hash: view.hash, view: updated })).catch((err: Error) =>
      deps.logger.warn({ err: err.message }, 'could not show the command in the builder'),
    );
  });
  app.view(BUILDER_CALLBACK, async ({ ack, body, view, client }) => {
    const text = builderCommand(view.state.values);
    const parsed = parseCommandText(text, deps.checks, { maxTimeoutSeconds: deps.config.jobs.maxTimeoutSeconds });
    if (parsed.kind !== 'request') {
      // The modal stays open with the problem under the arguments (Slack shows it there).
      const message = parsed.kind === 'usage' ? parsed.message.split('\n')[0]! : 'Pick a check and a target.';
      await ack({ response_action: 'errors', errors: { [FIELD.args]: message.replace(/`/g, '') } });
      return;
    }
    await ack();
    const channel = view.private_metadata;
    const user = body.user.id;
    // In a channel the bot is not in, an ephemeral cannot be posted: the answer goes to the user's DM with the app.
    const ephemeral = (message: string) =>
      paced(deps.pacer, 'chat.postEphemeral', channel, () => client.chat.postEphemeral({ channel, user, text: message }))
        .catch(() => paced(deps.pacer, 'chat.postMessage', user, () => client.chat.postMessage({ channel: user, text: message })))
        .then(
          () => undefined,
          (err: Error) => deps.logger.warn({ err: err.message }, 'could not answer the command builder'),
        );
    await ephemeral(`Running \`/kdebug ${escapeMrkdwn(text)}\`: next time you can type just that.`);
    const command: CommandFields = {
      team_id: body.team?.id ?? body.user.team_id ?? '',
      user_id: user,
      user_name: body.user.name,
      channel_id: channel,
      text,
      trigger_id: (body as { trigger_id?: string }).trigger_id ?? view.id,
      command: '/kdebug',
    };
    await run(command, {
      ack: async (reply) => {
        if (reply) await ephemeral(reply.text);
      },
      respond: (message) => ephemeral(message.text),
      client,
    });
  });
}
