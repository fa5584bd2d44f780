// slack-app-manifest.yaml against the code: every Slack Web API method kdebug calls is covered by a
// bot scope the manifest lists, and every scope it lists is used by some call (least privilege both
// ways). The calls are found in src/ with the TypeScript parser (comments and strings never count,
// chains may span lines, and the client may be typed structurally, as src/policy does), and each
// candidate chain is checked against a real WebClient's method tree, so only real API methods count.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { WebClient } from '@slack/web-api';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './helm-support.js';

/**
 * Bot scopes each Web API method needs (https://api.slack.com/methods/<method>). A method kdebug starts
 * calling must be added here, with its scopes, before this test passes.
 */
const METHOD_SCOPES: Record<string, string[]> = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.delete': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.getPermalink': [],
  // filesUploadV2 = files.getUploadURLExternal + an upload + files.completeUploadExternal
  'files.uploadV2': ['files:write'],
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
  'usergroups.list': ['usergroups:read'],
  'usergroups.users.list': ['usergroups:read'],
  'users.info': ['users:read'],
  // Per channel type: kdebug runs in public (channels:) and private (groups:) channels. Direct messages
  // with the bot would add im:history.
  'conversations.replies': ['channels:history', 'groups:history'],
  'conversations.info': ['channels:read', 'groups:read'],
  'conversations.members': ['channels:read', 'groups:read'],
  'conversations.join': ['channels:join'],
  'reactions.add': ['reactions:write'],
  'reactions.remove': ['reactions:write'],
  'views.open': [],
  'views.update': [],
  'views.push': [],
  'views.publish': [],
};

/** Calls Bolt makes by itself, whatever the code does: none needs a bot scope. */
const FRAMEWORK_CALLS: Record<string, string> = {
  'auth.test': 'Bolt, at start-up, to learn the bot user id',
  'apps.connections.open': 'Socket Mode, with the app-level token (connections:write, not a bot scope)',
};

/** Bolt listener registrations and what they need from the app's configuration. */
type Registration = { kind: 'command' | 'action' | 'view' | 'shortcut' | 'event' | 'message' | 'options'; name: string; where: string };

const client = new WebClient();
const NAMESPACES = new Set(
  Object.keys(client).filter((k) => {
    const v = (client as unknown as Record<string, unknown>)[k];
    return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
  }),
);

function isWebApiMethod(path: string[]): boolean {
  let node: unknown = client;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'function';
}

/** `a.b?.c.d` → ['a','b','c','d']; undefined for anything that is not a plain access chain. */
function chainOf(expr: ts.Expression): string[] | undefined {
  if (ts.isIdentifier(expr)) return [expr.text];
  if (expr.kind === ts.SyntaxKind.ThisKeyword) return ['this'];
  if (ts.isParenthesizedExpression(expr) || ts.isNonNullExpression(expr)) return chainOf(expr.expression);
  if (ts.isPropertyAccessExpression(expr)) {
    const base = chainOf(expr.expression);
    return base && [...base, expr.name.text];
  }
  return undefined;
}

interface FoundCall {
  method: string;
  where: string;
}

/** Web API methods and Bolt registrations in one source file. */
function scanSource(text: string, fileName: string): { calls: FoundCall[]; registrations: Registration[] } {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const calls: FoundCall[] = [];
  const registrations: Registration[] = [];
  const where = (node: ts.Node) => `${fileName}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const firstString = (call: ts.CallExpression) => {
    const arg = call.arguments[0];
    return arg && (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg)) ? arg.text : undefined;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const chain = chainOf(node.expression);
      if (chain) {
        const last = chain[chain.length - 1]!;
        const start = chain.findIndex((name, i) => NAMESPACES.has(name) && i < chain.length - 1 && isWebApiMethod(chain.slice(i)));
        if (start >= 0) calls.push({ method: chain.slice(start).join('.'), where: where(node) });
        else if (last === 'filesUploadV2' && chain.length > 1) calls.push({ method: 'files.uploadV2', where: where(node) });
        else if ((last === 'apiCall' || last === 'paginate') && chain.length > 1 && firstString(node)) calls.push({ method: firstString(node)!, where: where(node) });
        else if (chain.length === 1 && last === 'say') calls.push({ method: 'chat.postMessage', where: where(node) });
        const kinds = ['command', 'action', 'view', 'shortcut', 'event', 'message', 'options'] as const;
        const kind = kinds.find((k) => k === last);
        if (kind && chain.length === 2 && /^app$/i.test(chain[0]!) && node.arguments.length >= 2) {
          registrations.push({ kind, name: firstString(node) ?? '(pattern)', where: where(node) });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { calls, registrations };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Manifest {
  display_information: { name: string; description?: string; long_description?: string; background_color?: string };
  features: {
    bot_user?: { display_name: string; always_online?: boolean };
    slash_commands?: Array<{ command: string; description: string; usage_hint?: string; url?: string; should_escape?: boolean }>;
  };
  oauth_config: { scopes: { bot?: string[]; user?: string[] }; redirect_urls?: string[] };
  settings: {
    interactivity?: { is_enabled: boolean; request_url?: string };
    event_subscriptions?: { bot_events?: string[]; request_url?: string };
    org_deploy_enabled?: boolean;
    socket_mode_enabled?: boolean;
    token_rotation_enabled?: boolean;
  };
}

const manifest = parseYaml(readFileSync(join(repoRoot, 'slack-app-manifest.yaml'), 'utf8')) as Manifest;
const scanned = sourceFiles(join(repoRoot, 'src')).map((file) => scanSource(readFileSync(file, 'utf8'), relative(repoRoot, file)));
const calls = scanned.flatMap((s) => s.calls);
const registrations = scanned.flatMap((s) => s.registrations);
const methods = [...new Set(calls.map((c) => c.method))].sort();

describe('the scanner that finds Web API calls', () => {
  test('finds chains across lines, structurally typed clients and filesUploadV2; ignores comments, strings and non-API chains', () => {
    const { calls: found, registrations: regs } = scanSource(
      [
        '// client.reactions.add({}) in a comment does not count',
        "const s = 'client.pins.add(';",
        'await io.client.chat',
        '  .update({ channel, ts });',
        'await this.client.filesUploadV2({ file });',
        'await client.usergroups.users.list({ usergroup });',
        "await web.apiCall('bookmarks.list', {});",
        'metrics.slackErrors.inc({ method: "chat.delete" });',
        'receiver.client.on("connected", () => {});',
        "app.command('/kdebug', async () => {});",
        "app.action('cancel', async () => {});",
      ].join('\n'),
      'snippet.ts',
    );
    expect(found.map((c) => c.method)).toEqual(['chat.update', 'files.uploadV2', 'usergroups.users.list', 'bookmarks.list']);
    expect(found[0]!.where).toBe('snippet.ts:3');
    expect(regs.map((r) => `${r.kind} ${r.name}`)).toEqual(['command /kdebug', 'action cancel']);
  });

  test('finds the calls kdebug is known to make', () => {
    expect(methods).toEqual(expect.arrayContaining(['chat.postMessage', 'chat.update', 'files.getUploadURLExternal', 'files.completeUploadExternal']));
    expect(registrations).toContainEqual(expect.objectContaining({ kind: 'command', name: '/kdebug' }));
  });
});

describe('slack-app-manifest.yaml', () => {
  test('every Web API method the code calls has known scopes', () => {
    const unknown = calls.filter((c) => !(c.method in METHOD_SCOPES) && !(c.method in FRAMEWORK_CALLS));
    expect(unknown.map((c) => `${c.method} (${c.where}): add it to METHOD_SCOPES with the scopes its documentation lists`)).toEqual([]);
  });

  test('bot scopes: exactly those the calls need, plus commands for the slash command; no user scopes', () => {
    const needed = new Map<string, string[]>();
    const need = (scope: string, why: string) => needed.set(scope, [...(needed.get(scope) ?? []), why]);
    for (const c of calls) for (const scope of METHOD_SCOPES[c.method] ?? []) need(scope, `${c.method} at ${c.where}`);
    for (const r of registrations.filter((r) => r.kind === 'command')) need('commands', `slash command ${r.name} at ${r.where}`);
    const listed = manifest.oauth_config.scopes.bot ?? [];
    const missing = [...needed.keys()].filter((s) => !listed.includes(s)).map((s) => `${s} (needed by ${needed.get(s)!.join(', ')})`);
    const unused = listed.filter((s) => !needed.has(s)).map((s) => `${s} (no call in src/ needs it: remove it)`);
    expect({ missing, unused }).toEqual({ missing: [], unused: [] });
    expect(new Set(listed).size).toBe(listed.length);
    expect(manifest.oauth_config.scopes.user ?? []).toEqual([]);
  });

  test('slash commands: exactly those the bot handles, each with a description and a usage hint', () => {
    const handled = registrations
      .filter((r) => r.kind === 'command')
      .map((r) => r.name)
      .sort();
    const commands = manifest.features.slash_commands ?? [];
    expect(commands.map((c) => c.command).sort()).toEqual(handled);
    for (const c of commands) {
      expect(c.command).toMatch(/^\/[a-z0-9_-]{1,31}$/);
      expect(c.description.length).toBeGreaterThan(0);
      expect(c.description.length).toBeLessThanOrEqual(2000);
      expect(c.usage_hint?.length).toBeGreaterThan(0);
      expect(c.usage_hint!.length).toBeLessThanOrEqual(1000);
      // Socket Mode: Slack delivers commands over the WebSocket, so no request URL.
      expect(c.url).toBeUndefined();
    }
    expect(commands.find((c) => c.command === '/kdebug')?.usage_hint).toMatch(/dns .* -n /);
  });

  test('Socket Mode on, interactivity on (buttons), org-wide deploy off, no token rotation, a bot user', () => {
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    expect(manifest.settings.interactivity?.is_enabled).toBe(true);
    expect(manifest.settings.interactivity?.request_url).toBeUndefined();
    expect(manifest.settings.org_deploy_enabled).toBe(false);
    // kdebug takes a long-lived xoxb token from a Secret; rotation would expire it after 12 hours.
    expect(manifest.settings.token_rotation_enabled).toBe(false);
    expect(manifest.features.bot_user?.display_name).toBe('kdebug');
    expect(manifest.oauth_config.redirect_urls ?? []).toEqual([]);
  });

  test('event subscriptions only for events the code listens to', () => {
    const events = registrations.filter((r) => r.kind === 'event' || r.kind === 'message');
    if (events.length === 0) expect(manifest.settings.event_subscriptions).toBeUndefined();
    else expect(manifest.settings.event_subscriptions?.bot_events?.sort()).toEqual([...new Set(events.map((e) => (e.kind === 'message' ? 'message.channels' : e.name)))].sort());
  });

  test("display information within Slack's limits", () => {
    const info = manifest.display_information;
    expect(info.name.length).toBeGreaterThan(0);
    expect(info.name.length).toBeLessThanOrEqual(35);
    expect(info.description?.length ?? 0).toBeLessThanOrEqual(140);
    if (info.long_description) {
      expect(info.long_description.length).toBeGreaterThanOrEqual(175);
      expect(info.long_description.length).toBeLessThanOrEqual(4000);
    }
    if (info.background_color) expect(info.background_color).toMatch(/^#[0-9a-fA-F]{6}$/);
  });
});
