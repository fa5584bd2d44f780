// Proves the Slack emulator's interactive side (views.*, trigger_ids, clicks, options loads,
// submissions, the Home tab) against the real @slack/web-api WebClient and @slack/bolt App, over
// HTTP and over Socket Mode.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, LogLevel, type BlockAction, type ButtonAction, type Logger } from '@slack/bolt';
import { ErrorCode, WebClient } from '@slack/web-api';
import { SlackEmulator, type SlackView } from '../../src/playground/slack-emulator.js';
import { sendSlashCommand } from '../../src/playground/slack-signing.js';

const CHANNEL = 'C0KDEBUG01';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';

const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

const text = (t: string) => ({ type: 'plain_text' as const, text: t });
const option = (v: string) => ({ text: text(v), value: v });

/** The command builder as an app would open it: namespace, target (external select), check, arguments. */
function builderView(channel: string) {
  return {
    type: 'modal' as const,
    callback_id: 'kdebug_builder',
    private_metadata: channel,
    title: text('kdebug'),
    submit: text('Run'),
    close: text('Cancel'),
    blocks: [
      { type: 'input', block_id: 'ns', label: text('Namespace'), element: { type: 'static_select', action_id: 'namespace', options: ['default', 'prod'].map(option) } },
      { type: 'input', block_id: 'target', label: text('Target'), element: { type: 'external_select', action_id: 'target', min_query_length: 2 } },
      {
        type: 'input',
        block_id: 'check',
        label: text('Check'),
        element: { type: 'radio_buttons', action_id: 'check', initial_option: option('dns'), options: ['dns', 'tcp'].map(option) },
      },
      { type: 'input', block_id: 'args', optional: true, label: text('Arguments'), element: { type: 'plain_text_input', action_id: 'args' } },
    ],
  };
}

const PODS = ['web-0', 'web-1', 'db-0'];

/** A small interactive app: the builder, its options and submission, answers with buttons, the Home tab. */
function interactiveApp(app: App): App {
  app.command('/kdebug', async ({ ack, command, client }) => {
    await ack();
    if (command.text === '') {
      await client.views.open({ trigger_id: command.trigger_id, view: builderView(command.channel_id) });
      return;
    }
    await client.chat.postMessage({
      channel: command.channel_id,
      text: `ok: ${command.text}`,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `ok: ${command.text}` } },
        {
          type: 'actions',
          block_id: 'answer_actions',
          elements: [
            { type: 'button', action_id: 'kdebug_rerun', text: text('Re-run'), value: command.text },
            { type: 'button', action_id: 'kdebug_dismiss', text: text('Dismiss') },
          ],
        },
      ],
    });
  });
  app.options('target', async ({ ack, options, body }) => {
    if (options.value === 'slow') await sleep(3500);
    // What Slack sends along: the view's state as the user has filled it so far.
    if (options.value === 'in-ns') {
      const picked = (body.view?.state?.values as Record<string, Record<string, { selected_option?: { value: string } }>> | undefined)?.ns?.namespace?.selected_option?.value;
      return ack({ options: [option(`in-${picked ?? 'none'}`)] });
    }
    if (options.value === 'wide') return ack({ options: Array.from({ length: 101 }, (_, i) => option(`pod-${'x'.repeat(i === 0 ? 80 : 1)}${i}`)) });
    await ack({ options: PODS.filter((p) => p.startsWith(options.value)).map(option) });
  });
  app.view('kdebug_builder', async ({ ack, view, client }) => {
    const v = view.state.values;
    const args = v.args?.args?.value ?? '';
    if (/[;&|]/.test(args)) return ack({ response_action: 'errors', errors: { args: 'No shell metacharacters' } });
    await ack();
    const words = [v.check?.check?.selected_option?.value, v.target?.target?.selected_option?.value, '-n', v.ns?.namespace?.selected_option?.value, args];
    await client.chat.postMessage({ channel: view.private_metadata, text: words.filter(Boolean).join(' ') });
  });
  app.view({ callback_id: 'kdebug_builder', type: 'view_closed' }, async ({ ack, body }) => {
    await ack();
    if (body.type === 'view_closed') closed.push({ view: body.view.id, cleared: body.is_cleared });
  });
  app.action<BlockAction<ButtonAction>>('kdebug_rerun', async ({ ack, action, body, respond }) => {
    await ack();
    await respond({ response_type: 'ephemeral', replace_original: false, text: `re-running ${action.value ?? ''} for <@${body.user.id}>` });
  });
  app.action('kdebug_dismiss', async ({ ack, respond }) => {
    await ack();
    await respond({ delete_original: true });
  });
  app.action<BlockAction<ButtonAction>>('kdebug_open_builder', async ({ ack, body, client }) => {
    await ack();
    await client.views.open({ trigger_id: body.trigger_id, view: builderView(CHANNEL) });
  });
  app.event('app_home_opened', async ({ event, client }) => {
    await client.views.publish({
      user_id: event.user,
      view: {
        type: 'home',
        blocks: [
          { type: 'section', block_id: 'recent', text: { type: 'mrkdwn', text: `Last requests for <@${event.user}>: none yet` } },
          { type: 'actions', block_id: 'home_actions', elements: [{ type: 'button', action_id: 'kdebug_open_builder', text: text('New check') }] },
        ],
      },
    });
  });
  return app;
}

let emu: SlackEmulator;
/** The view_closed payloads the app got: which view, and whether the whole modal went. */
const closed: Array<{ view: string; cleared: boolean }> = [];

beforeAll(async () => {
  emu = new SlackEmulator();
  await emu.start();
  emu.addChannel(CHANNEL, { botIsMember: true, members: [ALICE, emu.botUserId], name: 'ops' });
});

afterAll(() => emu.stop());

beforeEach(() => emu.reset());

/** The error a call rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<{ code?: string; data?: Record<string, unknown> & { error?: string; response_metadata?: { messages?: string[] } } }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected the call to fail');
}

describe('views.* with the real WebClient', () => {
  const web = () => new WebClient(emu.botToken, { slackApiUrl: emu.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logger: quietLogger });

  test('views.open takes a trigger_id once, within 3 s, and answers the view with the ids Slack fills in', async () => {
    const trigger = emu.triggerId(ALICE);
    const opened = await web().views.open({ trigger_id: trigger, view: builderView(CHANNEL) });
    const view = opened.view as SlackView;
    expect(view.id).toMatch(/^V[0-9A-F]{10}$/);
    expect(view).toMatchObject({ type: 'modal', callback_id: 'kdebug_builder', private_metadata: CHANNEL, root_view_id: view.id, previous_view_id: null, app_id: emu.appId });
    expect(view.hash).toMatch(/^\d{10}\.[0-9a-f]{8}$/);
    expect(view.blocks.map((b) => b.block_id)).toEqual(['ns', 'target', 'check', 'args']);
    expect(emu.openModal(ALICE)).toEqual(view);
    expect(emu.views(BOB)).toEqual([]);

    expect((await failure(web().views.open({ trigger_id: trigger, view: builderView(CHANNEL) }))).data?.error).toBe('exchanged_trigger_id');
    expect((await failure(web().views.open({ trigger_id: '123.456.abc', view: builderView(CHANNEL) }))).data?.error).toBe('invalid_trigger_id');
    const late = emu.triggerId(ALICE);
    await sleep(3100);
    expect((await failure(web().views.open({ trigger_id: late, view: builderView(CHANNEL) }))).data?.error).toBe('expired_trigger_id');
  });

  test('a view Slack refuses is invalid_arguments with json-pointers, and does not use up the trigger', async () => {
    const trigger = emu.triggerId(ALICE);
    const refused = async (view: Record<string, unknown>): Promise<string[] | undefined> => {
      const err = await failure(web().views.open({ trigger_id: trigger, view: view as never }));
      expect(err.data?.error).toBe('invalid_arguments');
      return err.data?.response_metadata?.messages;
    };
    const modal = builderView(CHANNEL);
    expect(await refused({ ...modal, title: text('t'.repeat(25)) })).toEqual(['[ERROR] must be less than 25 characters [json-pointer:/view/title/text]']);
    expect(await refused({ ...modal, blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) })).toEqual([
      '[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]',
    ]);
    expect(await refused({ ...modal, private_metadata: 'm'.repeat(3001) })).toEqual(['[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]']);
    expect(await refused({ ...modal, type: 'home' })).toEqual(['[ERROR] must be modal [json-pointer:/view/type]']);
    const { submit: _submit, ...noSubmit } = modal;
    expect(await refused(noSubmit)).toEqual(['[ERROR] must provide submit when blocks contain an input [json-pointer:/view/submit]']);
    expect(await refused({ ...modal, blocks: [{ type: 'input', element: { type: 'button', action_id: 'b', text: text('b') } }] })).toEqual([
      '[ERROR] missing required field: label [json-pointer:/view/blocks/0]',
      '[ERROR] button is not a valid input element [json-pointer:/view/blocks/0/element/type]',
    ]);
    const select = (element: Record<string, unknown>) => ({ ...modal, blocks: [{ type: 'input', label: text('Pick'), element: { action_id: 'pick', ...element } }] });
    expect(await refused(select({ type: 'static_select', options: Array.from({ length: 101 }, (_, i) => option(`o${i}`)) }))).toEqual([
      '[ERROR] no more than 100 items allowed [json-pointer:/view/blocks/0/element/options]',
    ]);
    expect(await refused(select({ type: 'static_select', options: [option('o'.repeat(76))] }))).toEqual([
      '[ERROR] must be less than 76 characters [json-pointer:/view/blocks/0/element/options/0/text/text]',
    ]);
    expect(await refused(select({ type: 'static_select', options: [option('a')], initial_option: option('b') }))).toEqual([
      '[ERROR] initial option must match one of the options [json-pointer:/view/blocks/0/element]',
    ]);
    expect(await refused(select({ type: 'external_select', min_query_length: -1 }))).toEqual([
      '[ERROR] must be a non-negative integer [json-pointer:/view/blocks/0/element/min_query_length]',
    ]);
    expect(await refused(select({ type: 'checkboxes', options: Array.from({ length: 11 }, (_, i) => option(`c${i}`)) }))).toEqual([
      '[ERROR] no more than 10 items allowed [json-pointer:/view/blocks/0/element/options]',
    ]);
    expect(await refused({ ...modal, blocks: [modal.blocks[0], { ...modal.blocks[1], block_id: 'ns' }] })).toEqual([
      '[ERROR] duplicate block_id ns [json-pointer:/view/blocks/1/block_id]',
    ]);

    // Messages share the Block Kit checks: two buttons with one action_id in a block.
    const twins = [{ type: 'actions', elements: [0, 1].map(() => ({ type: 'button', action_id: 'same', text: text('x') })) }];
    const msgErr = await failure(web().chat.postMessage({ channel: CHANNEL, text: 'x', blocks: twins }));
    expect(msgErr.data).toMatchObject({ error: 'invalid_blocks', errors: ['duplicate action_id same [json-pointer:/blocks/0/elements/1/action_id]'] });

    await expect(web().views.open({ trigger_id: trigger, view: modal })).resolves.toMatchObject({ ok: true });
  });

  test('views.update by view_id or external_id guards with the hash; views.push stacks up to 3 views', async () => {
    const builder = (title: string) => ({ ...builderView(CHANNEL), external_id: 'builder-alice', title: text(title) });
    const opened = (await web().views.open({ trigger_id: emu.triggerId(ALICE), view: builder('kdebug') })).view as SlackView;
    const stale = opened.hash;
    const updated = (await web().views.update({ view_id: opened.id, hash: stale, view: builder('kdebug: prod') })).view as SlackView;
    expect(updated).toMatchObject({ id: opened.id, external_id: 'builder-alice', title: { text: 'kdebug: prod' } });
    expect(updated.hash).not.toBe(stale);
    expect((await failure(web().views.update({ view_id: opened.id, hash: stale, view: builder('lost update') }))).data?.error).toBe('hash_conflict');
    expect((await failure(web().views.update({ view_id: 'V0000000000', view: builder('nowhere') }))).data?.error).toBe('not_found');
    await expect(web().views.update({ external_id: 'builder-alice', hash: updated.hash, view: builder('by external id') })).resolves.toMatchObject({ view: { id: opened.id } });
    expect((await failure(web().views.open({ trigger_id: emu.triggerId(BOB), view: { ...builderView(CHANNEL), external_id: 'builder-alice' } }))).data?.error).toBe(
      'duplicate_external_id',
    );

    const second = (await web().views.push({ trigger_id: emu.triggerId(ALICE), view: { ...builderView(CHANNEL), title: text('second') } })).view as SlackView;
    expect(second).toMatchObject({ root_view_id: opened.id, previous_view_id: opened.id });
    await web().views.push({ trigger_id: emu.triggerId(ALICE), view: { ...builderView(CHANNEL), title: text('third') } });
    expect((await failure(web().views.push({ trigger_id: emu.triggerId(ALICE), view: builderView(CHANNEL) }))).data?.error).toBe('push_limit_reached');
    expect(emu.views(ALICE).map((v) => v.title?.text)).toEqual(['by external id', 'second', 'third']);
    expect((await failure(web().views.push({ trigger_id: emu.triggerId(BOB), view: builderView(CHANNEL) }))).data?.error).toBe('not_found');
  });

  test("views.publish sets a user's Home tab (type home, up to 100 blocks); Tier 4 rate limit", async () => {
    const home = { type: 'home' as const, blocks: Array.from({ length: 100 }, (_, i) => ({ type: 'section', text: { type: 'mrkdwn', text: `request ${i}` } })) };
    const first = (await web().views.publish({ user_id: ALICE, view: home })).view as SlackView;
    expect(emu.homeView(ALICE)).toEqual(first);
    expect(emu.homeView(BOB)).toBeUndefined();
    const again = (await web().views.publish({ user_id: ALICE, hash: first.hash, view: { type: 'home', blocks: [] } })).view as SlackView;
    expect(again.id).toBe(first.id);
    expect((await failure(web().views.publish({ user_id: ALICE, hash: first.hash, view: home }))).data?.error).toBe('hash_conflict');
    const tooMany = { type: 'home' as const, blocks: [...home.blocks, { type: 'divider' }] };
    expect((await failure(web().views.publish({ user_id: ALICE, view: tooMany }))).data?.response_metadata?.messages).toEqual([
      '[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]',
    ]);
    expect((await failure(web().views.publish({ user_id: ALICE, view: builderView(CHANNEL) }))).data?.error).toBe('invalid_arguments');

    // Tier 4: a burst of 40 at once, then about one every 0.6 s.
    emu.reset();
    const burst = await Promise.allSettled(Array.from({ length: 41 }, () => web().views.publish({ user_id: BOB, view: { type: 'home', blocks: [] } })));
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
    expect(burst.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown)).toEqual([expect.objectContaining({ code: ErrorCode.RateLimitedError, retryAfter: 1 })]);
    expect(emu.rateLimited('views.publish')).toBe(1);
  });
});

describe('a Bolt app over HTTP', () => {
  let app: App;
  let url: string;
  beforeAll(async () => {
    app = interactiveApp(new App({ token: emu.botToken, signingSecret: emu.signingSecret, clientOptions: { slackApiUrl: emu.apiUrl }, logger: quietLogger }));
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    emu.setRequestUrl(undefined);
    await app.stop();
  });
  beforeEach(() => emu.setRequestUrl(url));

  /** `/kdebug` with no text, as typed by Alice; resolves with the builder the app opened. */
  async function openBuilder(): Promise<{ modal: SlackView; triggerId: string }> {
    const fields = emu.slashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: '' });
    expect((await sendSlashCommand(url, emu.signingSecret, fields)).status).toBe(200);
    const modal = await emu.waitFor(() => emu.openModal(ALICE), 5000, 'builder open');
    return { modal, triggerId: fields.trigger_id! };
  }

  test('/kdebug with no text opens the builder; options load; a submission with errors, then one that runs', async () => {
    const { modal, triggerId } = await openBuilder();
    expect(emu.callsTo('views.open').map((c) => [c.args.trigger_id, c.status])).toEqual([[triggerId, 200]]);
    expect(modal).toMatchObject({ callback_id: 'kdebug_builder', private_metadata: CHANNEL, title: { text: 'kdebug' }, submit: { text: 'Run' } });

    expect(await emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'we', user: ALICE })).toEqual({ options: [option('web-0'), option('web-1')] });
    await expect(emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'w', user: ALICE })).rejects.toThrow('once 2 characters are typed');
    await expect(emu.requestOptions({ viewId: modal.id, actionId: 'namespace', value: 'pro', user: ALICE })).rejects.toThrow(
      /no external_select or multi_external_select with action_id namespace/,
    );
    await expect(emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'web', user: BOB })).rejects.toThrow(`${BOB} does not see view ${modal.id}`);

    // What the user could not have done is refused before the app sees it.
    await expect(emu.submitView({ viewId: modal.id, user: ALICE, values: { namespace: 'prod', target: 'db-0' } })).rejects.toThrow(
      '"Target" offers no option db-0 (it offers: web-0, web-1)',
    );
    await expect(emu.submitView({ viewId: modal.id, user: ALICE, values: { target: 'web-0' } })).rejects.toThrow('"Namespace" is required');

    const refused = await emu.submitView({ viewId: modal.id, user: ALICE, values: { namespace: 'prod', target: 'web-0', args: 'x; rm -rf /' } });
    expect(refused).toMatchObject({ action: 'errors', errors: { args: 'No shell metacharacters' } });
    expect((refused.payload.view as SlackView).state.values).toEqual({
      ns: { namespace: { type: 'static_select', selected_option: option('prod') } },
      target: { target: { type: 'external_select', selected_option: option('web-0') } },
      check: { check: { type: 'radio_buttons', selected_option: option('dns') } },
      args: { args: { type: 'plain_text_input', value: 'x; rm -rf /' } },
    });
    expect(emu.openModal(ALICE)?.id).toBe(modal.id);

    const ran = await emu.submitView({ viewId: modal.id, user: ALICE, values: { namespace: 'prod', target: 'web-1', check: 'tcp' } });
    expect(ran).toEqual({ payload: expect.any(Object) as object, action: 'close' });
    expect(emu.openModal(ALICE)).toBeUndefined();
    await emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'tcp web-1 -n prod'), 5000, 'the command the builder ran');
  });

  test("an options load carries the view's state as filled so far, as Slack's block_suggestion does", async () => {
    const { modal } = await openBuilder();
    expect(await emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'in-ns', user: ALICE })).toEqual({ options: [option('in-none')] });
    expect(await emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'in-ns', user: ALICE, values: { namespace: 'prod' } })).toEqual({
      options: [option('in-prod')],
    });
  });

  test('closing a modal: its Close goes back one view, the X closes it all; notify_on_close tells the app (view_closed)', async () => {
    closed.length = 0;
    const web = () => new WebClient(emu.botToken, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: quietLogger });
    const notifying = { ...builderView(CHANNEL), notify_on_close: true };
    const first = (await web().views.open({ trigger_id: emu.triggerId(ALICE), view: notifying })).view as SlackView;
    const second = (await web().views.push({ trigger_id: emu.triggerId(ALICE), view: notifying })).view as SlackView;
    await expect(emu.closeView({ viewId: first.id, user: ALICE })).rejects.toThrow(`${ALICE} does not see modal view ${first.id} (open modal: ${second.id})`);
    await emu.closeView({ viewId: second.id, user: ALICE });
    expect(emu.openModal(ALICE)?.id).toBe(first.id);
    await web().views.push({ trigger_id: emu.triggerId(ALICE), view: builderView(CHANNEL) });
    await emu.closeView({ viewId: emu.openModal(ALICE)!.id, user: ALICE, all: true });
    expect(emu.openModal(ALICE)).toBeUndefined();
    // Only the view that asked to be told is reported.
    expect(closed).toEqual([{ view: second.id, cleared: false }]);
  });

  test('an options load Slack gives up on (over 3 s), or whose options it refuses, fails', async () => {
    const { modal } = await openBuilder();
    await expect(emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'slow', user: ALICE })).rejects.toThrow('did not answer block_suggestion within 3000ms');
    const wide = emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'wide', user: ALICE });
    await expect(wide).rejects.toThrow('no more than 100 items allowed [json-pointer:/options]');
    await expect(wide).rejects.toThrow('must be less than 76 characters [json-pointer:/options/0/text/text]');
  });

  test('a button on an answer: ack() + respond() through the message-bound response URL; a forged value reaches the app signed', async () => {
    expect((await sendSlashCommand(url, emu.signingSecret, emu.slashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: 'dns web-0' }))).status).toBe(200);
    const answer = await emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'ok: dns web-0'), 5000, 'answer');

    const click = await emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_rerun', user: ALICE });
    expect(click.answer).toBeUndefined();
    expect(click.payload).toMatchObject({
      type: 'block_actions',
      user: { id: ALICE },
      trigger_id: click.triggerId,
      response_url: click.responseUrl,
      container: { type: 'message', message_ts: answer.ts, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' },
      message: { ts: answer.ts, text: 'ok: dns web-0', bot_id: emu.botId },
      actions: [{ action_id: 'kdebug_rerun', block_id: 'answer_actions', value: 'dns web-0', type: 'button', text: text('Re-run') }],
    });
    const reply = await emu.waitFor(() => emu.responses(click.responseUrl)[0], 5000, 'rerun reply');
    expect(reply).toMatchObject({
      channel: CHANNEL,
      userId: ALICE,
      messageTs: answer.ts,
      status: 200,
      body: { response_type: 'ephemeral', replace_original: false, text: `re-running dns web-0 for <@${ALICE}>` },
    });

    const forged = await emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_rerun', user: ALICE, value: 'dns db-0' });
    expect((await emu.waitFor(() => emu.responses(forged.responseUrl)[0], 5000, 'forged reply')).body.text).toBe(`re-running dns db-0 for <@${ALICE}>`);

    await expect(emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_nope', user: ALICE })).rejects.toThrow(
      `no button with action_id kdebug_nope in message ${answer.ts} (it has: button kdebug_rerun, button kdebug_dismiss)`,
    );
    await expect(emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_rerun', user: BOB })).rejects.toThrow(`${BOB} is not in ${CHANNEL}`);

    // delete_original acts on the message the button was on.
    await emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_dismiss', user: ALICE });
    await emu.waitFor(() => emu.message(CHANNEL, answer.ts)?.deleted, 5000, 'answer dismissed');
  });

  test('App Home: app_home_opened publishes the tab; its button opens the builder from the Home view', async () => {
    await emu.openAppHome(ALICE);
    const home = await emu.waitFor(() => emu.homeView(ALICE), 5000, 'home published');
    expect(home.blocks[0]).toMatchObject({ block_id: 'recent', text: { text: `Last requests for <@${ALICE}>: none yet` } });

    const click = await emu.clickButton({ viewId: home.id, actionId: 'kdebug_open_builder', user: ALICE });
    expect(click.payload).toMatchObject({
      container: { type: 'view', view_id: home.id },
      view: { id: home.id, type: 'home' },
      actions: [{ action_id: 'kdebug_open_builder', block_id: 'home_actions' }],
    });
    expect(click.payload.response_url).toBeUndefined();
    const modal = await emu.waitFor(() => emu.openModal(ALICE), 5000, 'builder from home');
    expect(modal.callback_id).toBe('kdebug_builder');
    expect(emu.callsTo('views.open').map((c) => c.args.trigger_id)).toEqual([click.triggerId]);
    await expect(emu.submitView({ viewId: home.id, user: ALICE })).rejects.toThrow(`view ${home.id} is a Home tab, which has no Submit`);
    await expect(emu.clickButton({ viewId: home.id, actionId: 'kdebug_open_builder', user: BOB })).rejects.toThrow(`${BOB} does not see view ${home.id}`);
  });
});

describe('a Bolt app over Socket Mode', () => {
  let app: App;
  beforeAll(async () => {
    app = interactiveApp(new App({ token: emu.botToken, appToken: emu.appToken, socketMode: true, clientOptions: { slackApiUrl: emu.apiUrl }, logger: quietLogger }));
    await app.start();
  });
  afterAll(async () => {
    await app.stop();
    await emu.waitFor(() => emu.socketConnections === 0, 5000, 'socket closed');
  });

  test('the builder, its options and submission, a button and the Home tab, all as envelopes', async () => {
    await emu.sendSocketSlashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: '' });
    const modal = await emu.waitFor(() => emu.openModal(ALICE), 5000, 'builder open');
    expect(await emu.requestOptions({ viewId: modal.id, actionId: 'target', value: 'db', user: ALICE })).toEqual({ options: [option('db-0')] });
    const refused = await emu.submitView({ viewId: modal.id, user: ALICE, values: { namespace: 'default', target: 'db-0', args: 'a|b' } });
    expect(refused.action).toBe('errors');
    // Over Socket Mode the answer travels in the ack.
    expect(emu.socketAcks.at(-1)?.payload).toEqual({ response_action: 'errors', errors: { args: 'No shell metacharacters' } });
    expect((await emu.submitView({ viewId: modal.id, user: ALICE, values: { namespace: 'default', target: 'db-0' } })).action).toBe('close');
    await emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'dns db-0 -n default'), 5000, 'the command the builder ran');

    await emu.sendSocketSlashCommand({ channel_id: CHANNEL, user_id: ALICE, command: '/kdebug', text: 'tcp web-1' });
    const answer = await emu.waitFor(() => emu.messages(CHANNEL).find((m) => m.text === 'ok: tcp web-1'), 5000, 'answer');
    const click = await emu.clickButton({ channel: CHANNEL, messageTs: answer.ts, actionId: 'kdebug_rerun', user: ALICE });
    expect((await emu.waitFor(() => emu.responses(click.responseUrl)[0], 5000, 'rerun reply')).body.text).toBe(`re-running tcp web-1 for <@${ALICE}>`);

    await emu.openAppHome(ALICE);
    await emu.waitFor(() => emu.homeView(ALICE), 5000, 'home published');
  });
});
