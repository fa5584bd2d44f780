// The kdebug playground page: a Slack channel look-alike drawn from the page server's /api/state,
// redrawn on its /api/events. Plain browser JavaScript, no build step, nothing loaded from elsewhere.
//
// Safety: everything that comes from a message (kdebug echoes what people type) becomes DOM text
// through textContent and createElement, never through innerHTML; links keep to http(s) and mailto.

// ---------------------------------------------------------------- state

/** The last /api/state. */
let state;
/** Ephemerals the user dismissed. */
const dismissed = new Set();
/** The thread open in the right-hand pane (its root's ts), if any. */
let openThread;
/** 'channel' or 'app' (the kdebug app: Home and Messages tabs). */
let screen = 'channel';
let appTab = 'home';
/** What the user filled into each view's inputs: viewId → action_id → string | string[]. */
const formValues = new Map();
/** The labels of options picked in external selects: viewId → action_id → label. */
const formLabels = new Map();
/** Inputs the page itself found wanting (required and empty): viewId → block_id → message. */
const localErrors = new Map();
/** The modal's look as last drawn, to redraw only when it changes. */
let modalKey = '';
let homeKey = '';
/** The commands sent from the composer, for ArrowUp. */
const sent = [];
let recall = -1;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 8000);
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  let json;
  try {
    json = await res.json();
  } catch {
    throw new Error(`${path}: HTTP ${res.status}`);
  }
  if (!res.ok || json.ok === false) throw new Error(json.error || `${path}: HTTP ${res.status}`);
  return json;
}

// ---------------------------------------------------------------- mrkdwn

/** The shortcodes kdebug uses (and a few common ones), as Slack draws them. */
const EMOJI = {
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  warning: '⚠️',
  x: '❌',
  no_entry_sign: '🚫',
  no_entry: '⛔',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  gear: '⚙️',
  grey_question: '❔',
  question: '❓',
  grey_exclamation: '❕',
  exclamation: '❗',
  repeat: '🔁',
  inbox_tray: '📥',
  outbox_tray: '📤',
  alarm_clock: '⏰',
  stopwatch: '⏱️',
  mag: '🔍',
  lock: '🔒',
  unlock: '🔓',
  key: '🔑',
  bulb: '💡',
  memo: '📝',
  page_facing_up: '📄',
  paperclip: '📎',
  information_source: 'ℹ️',
  rocket: '🚀',
  tada: '🎉',
  eyes: '👀',
  wave: '👋',
  '+1': '👍',
  thumbsup: '👍',
  '-1': '👎',
  thumbsdown: '👎',
  ok_hand: '👌',
  fire: '🔥',
  bug: '🐛',
  wrench: '🔧',
  hammer_and_wrench: '🛠️',
  satellite_antenna: '📡',
  globe_with_meridians: '🌐',
  link: '🔗',
  construction: '🚧',
  red_circle: '🔴',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  large_blue_circle: '🔵',
  white_circle: '⚪',
  black_circle: '⚫',
  stop_sign: '🛑',
  sparkles: '✨',
  zap: '⚡',
  calendar: '📅',
  speech_balloon: '💬',
  shield: '🛡️',
  package: '📦',
  point_right: '👉',
  arrow_right: '➡️',
  heavy_plus_sign: '➕',
  heavy_minus_sign: '➖',
  smile: '😄',
  slightly_smiling_face: '🙂',
};

/** Slack escapes only these three in message text. */
function decode(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Text with :shortcodes: as emoji (unknown ones stay as typed). */
function withEmoji(text) {
  return text.replace(/:([a-z0-9_+'-]+):/g, (whole, name) => EMOJI[name] ?? whole);
}

const WORD = /[\p{L}\p{N}]/u;

/** Whether a *, _ or ~ at `start` (closing at `end`) counts as formatting: not inside a word, not hugging spaces. */
function fences(text, start, end) {
  const before = text[start - 1];
  const after = text[end + 1];
  const inner = text.slice(start + 1, end);
  return (before === undefined || !WORD.test(before)) && (after === undefined || !WORD.test(after)) && inner.trim() === inner && inner !== '';
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** Slack's permalink to a message of this channel opens its thread here. */
function permalinkTs(href) {
  const m = /\/archives\/([A-Z0-9]+)\/p(\d{7,})(?:$|[?#])/.exec(href);
  if (!m || !state || m[1] !== state.channel.id) return undefined;
  return `${m[2].slice(0, -6)}.${m[2].slice(-6)}`;
}

function link(href, label) {
  const safe = safeHref(href);
  if (!safe) return h('span', { class: 'bad-link', title: 'not a web link' }, label);
  const a = h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer', class: 'link' }, label);
  const ts = permalinkTs(safe);
  if (ts) {
    a.dataset.testid = 'permalink';
    a.addEventListener('click', (event) => {
      event.preventDefault();
      showScreen('channel');
      openThreadPane(ts);
    });
  }
  return a;
}

const DATE_TOKENS = {
  date_num: (d) => d.toISOString().slice(0, 10),
  date: (d) => d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' }),
  date_short: (d) => d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }),
  date_long: (d) => d.toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }),
  time: (d) => d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
  time_secs: (d) => d.toLocaleTimeString(),
};
function pretty(d, fallback) {
  const day = new Date(d).setHours(0, 0, 0, 0);
  const today = new Date().setHours(0, 0, 0, 0);
  if (day === today) return 'Today';
  if (day === today - 86_400_000) return 'Yesterday';
  return fallback(d);
}
DATE_TOKENS.date_pretty = (d) => pretty(d, DATE_TOKENS.date);
DATE_TOKENS.date_short_pretty = (d) => pretty(d, DATE_TOKENS.date_short);
DATE_TOKENS.date_long_pretty = (d) => pretty(d, DATE_TOKENS.date_long);

/** What a <…> token shows: a mention, a channel, a date, a special mention or a link. */
function angle(token) {
  const [body, ...rest] = token.split('|');
  const label = rest.join('|');
  if (body.startsWith('@')) {
    const id = body.slice(1);
    return h('span', { class: 'mention', dataset: { user: id } }, `@${label || state?.users?.[id] || id}`);
  }
  if (body.startsWith('#')) return h('span', { class: 'mention' }, `#${label || (body.slice(1) === state?.channel.id ? state.channel.name : body.slice(1))}`);
  if (body.startsWith('!date^')) {
    const [, seconds, format] = body.split('^');
    const d = new Date(Number(seconds) * 1000);
    if (!Number.isFinite(d.getTime()) || !format) return decode(label || token);
    return h(
      'span',
      { class: 'date', title: d.toString() },
      format.replace(/\{(\w+)\}/g, (whole, name) => (DATE_TOKENS[name] ? DATE_TOKENS[name](d) : whole)),
    );
  }
  if (body.startsWith('!subteam^')) return h('span', { class: 'mention' }, decode(label || body.slice(9)));
  if (body.startsWith('!')) return h('span', { class: 'mention' }, `@${body.slice(1)}`);
  const href = decode(body);
  return link(href, decode(label || body));
}

/** One line's inline formatting into `parent`: `code`, <links>, *bold*, _italic_, ~strike~, :emoji:. */
function inline(text, parent) {
  const token = /`([^`\n]+)`|<([^<>\n]+)>|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~|:([a-z0-9_+'-]+):/g;
  let plain = 0;
  let m;
  while ((m = token.exec(text))) {
    const [whole, code, angled, bold, italic, strike, emoji] = m;
    const start = m.index;
    const end = start + whole.length - 1;
    let node;
    if (code !== undefined) node = h('code', {}, decode(code));
    else if (angled !== undefined) node = angle(angled);
    else if (emoji !== undefined) node = EMOJI[emoji] ? h('span', { class: 'emoji', title: `:${emoji}:` }, EMOJI[emoji]) : undefined;
    else if (fences(text, start, end)) {
      node = h(bold !== undefined ? 'strong' : italic !== undefined ? 'em' : 's');
      inline(bold ?? italic ?? strike, node);
    }
    if (!node) {
      // Not formatting after all: the marker is text, and the scan goes on right after it.
      token.lastIndex = start + 1;
      continue;
    }
    if (start > plain) parent.append(decode(text.slice(plain, start)));
    parent.append(node);
    plain = token.lastIndex;
  }
  if (plain < text.length) parent.append(decode(text.slice(plain)));
}

/** Slack mrkdwn as DOM: ```code blocks```, > quotes, then inline formatting. */
function mrkdwn(text, cls = 'mrkdwn') {
  const root = h('div', { class: cls });
  const parts = String(text ?? '').split('```');
  parts.forEach((part, i) => {
    // Odd parts sit between fences; an unclosed fence is text.
    if (i % 2 === 1 && i < parts.length - 1) {
      root.append(h('pre', { class: 'code-block' }, decode(part.replace(/^\n/, ''))));
      return;
    }
    const piece = i % 2 === 1 ? `\`\`\`${part}` : part;
    const lines = (i > 0 && i % 2 === 0 ? piece.replace(/^\n/, '') : piece).split('\n');
    let quote;
    lines.forEach((line, j) => {
      const q = /^(?:&gt;|>) ?(.*)$/.exec(line);
      if (q) {
        if (!quote) root.append((quote = h('blockquote')));
        else quote.append('\n');
        inline(q[1], quote);
        return;
      }
      quote = undefined;
      const span = h('span');
      inline(line, span);
      root.append(span);
      if (j < lines.length - 1) root.append('\n');
    });
  });
  return root;
}

/** A text object: mrkdwn, or plain_text (emoji shortcodes drawn, nothing else). */
function textObject(obj, cls) {
  if (!obj || typeof obj.text !== 'string') return h('span');
  if (obj.type === 'mrkdwn' && obj.verbatim !== true) return mrkdwn(obj.text, cls);
  return h('div', { class: `${cls ?? ''} plain` }, obj.emoji === false ? obj.text : withEmoji(obj.text));
}

function plainText(obj) {
  return obj && typeof obj.text === 'string' ? (obj.emoji === false ? obj.text : withEmoji(obj.text)) : '';
}

// ---------------------------------------------------------------- Block Kit

/**
 * Where blocks are drawn, which decides what their buttons do: `{ kind: 'message', channel, ts }`,
 * `{ kind: 'modal', viewId }` or `{ kind: 'home', viewId }`.
 */
function blocksView(blocks, ctx) {
  const root = h('div', { class: 'blocks' });
  for (const block of blocks ?? []) root.append(blockView(block, ctx));
  return root;
}

function blockView(block, ctx) {
  switch (block?.type) {
    case 'section': {
      const el = h('div', { class: 'block section', dataset: { blockId: block.block_id ?? '' } });
      const main = h('div', { class: 'section-main' });
      if (block.text) main.append(textObject(block.text));
      if (Array.isArray(block.fields))
        main.append(
          h(
            'div',
            { class: 'fields' },
            block.fields.map((f) => textObject(f, 'field')),
          ),
        );
      el.append(main);
      if (block.accessory) el.append(h('div', { class: 'accessory' }, elementView(block.accessory, ctx)));
      return el;
    }
    case 'header':
      return h('div', { class: 'block header' }, plainText(block.text));
    case 'divider':
      return h('hr', { class: 'block divider' });
    case 'context':
      return h(
        'div',
        { class: 'block context' },
        (block.elements ?? []).map((el) => (el.type === 'image' ? imageView(el, 'context-image') : textObject(el, 'context-text'))),
      );
    case 'actions':
      return h(
        'div',
        { class: 'block actions', dataset: { blockId: block.block_id ?? '' } },
        (block.elements ?? []).map((el) => elementView(el, ctx)),
      );
    case 'image':
      return h('div', { class: 'block image' }, block.title ? h('div', { class: 'image-title' }, plainText(block.title)) : null, imageView(block, 'image-box'));
    case 'input':
      return inputBlock(block, ctx);
    case 'rich_text':
      return h('div', { class: 'block rich-text' }, (block.elements ?? []).map(richTextView));
    default:
      return h('div', { class: 'block unsupported' }, `[${String(block?.type)} block]`);
  }
}

/** Images are not fetched (the page loads nothing from elsewhere): their alt text stands in. */
function imageView(el, cls) {
  return h('span', { class: cls, title: el.image_url ?? '' }, `🖼 ${el.alt_text ?? 'image'}`);
}

function richTextView(el) {
  const inlineRich = (els) =>
    (els ?? []).map((e) => {
      let node;
      if (e.type === 'text') node = document.createTextNode(e.text ?? '');
      else if (e.type === 'link') node = link(e.url ?? '', e.text ?? e.url ?? '');
      else if (e.type === 'user') node = h('span', { class: 'mention' }, `@${state?.users?.[e.user_id] ?? e.user_id}`);
      else if (e.type === 'channel') node = h('span', { class: 'mention' }, `#${e.channel_id}`);
      else if (e.type === 'emoji') node = document.createTextNode(EMOJI[e.name] ?? e.unicode ?? `:${e.name}:`);
      else node = document.createTextNode(e.text ?? '');
      const style = e.style ?? {};
      if (style.code) node = h('code', {}, node);
      if (style.bold) node = h('strong', {}, node);
      if (style.italic) node = h('em', {}, node);
      if (style.strike) node = h('s', {}, node);
      return node;
    });
  switch (el.type) {
    case 'rich_text_preformatted':
      return h('pre', { class: 'code-block' }, inlineRich(el.elements));
    case 'rich_text_quote':
      return h('blockquote', {}, inlineRich(el.elements));
    case 'rich_text_list':
      return h(
        el.style === 'ordered' ? 'ol' : 'ul',
        {},
        (el.elements ?? []).map((item) => h('li', {}, inlineRich(item.elements))),
      );
    default:
      return h('div', { class: 'plain' }, inlineRich(el.elements));
  }
}

function optionsOf(el) {
  const groups = (el.option_groups ?? []).flatMap((g) => g.options ?? []);
  return [...(el.options ?? []), ...groups];
}

/** An interactive element in a message, a modal or the Home tab. */
function elementView(el, ctx) {
  switch (el?.type) {
    case 'button':
      return buttonView(el, ctx);
    case 'overflow':
      return overflowView(el);
    case 'image':
      return imageView(el, 'accessory-image');
    case 'static_select':
    case 'multi_static_select':
    case 'external_select':
    case 'multi_external_select':
    case 'radio_buttons':
    case 'checkboxes':
      // Selections only count inside a view (what a submission or a button there sends); outside,
      // the emulator delivers no selection actions, so they show but do nothing.
      if (ctx.kind === 'message') return h('span', { class: 'inert', title: 'Selecting here sends nothing in the playground' }, inputElement(el, ctx, true));
      return inputElement(el, ctx, false);
    default:
      return h('span', { class: 'unsupported' }, `[${String(el?.type)}]`);
  }
}

function buttonView(el, ctx) {
  const label = plainText(el.text);
  const cls = `button${el.style === 'primary' ? ' primary' : el.style === 'danger' ? ' danger' : ''}`;
  if (el.url) {
    const href = safeHref(el.url);
    if (href) return h('a', { class: cls, href, target: '_blank', rel: 'noopener noreferrer', dataset: { actionId: el.action_id ?? '' } }, label);
  }
  const button = h('button', { type: 'button', class: cls, dataset: { actionId: el.action_id ?? '', testid: 'button' } }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (ctx.kind === 'message') await api('/api/click', { channel: ctx.channel, messageTs: ctx.ts, actionId: el.action_id });
      else await api('/api/click', { viewId: ctx.viewId, actionId: el.action_id, values: formValues.get(ctx.viewId) ?? {} });
    } catch (err) {
      if (ctx.kind === 'modal') showModalError(err.message);
      else toast(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function overflowView(el) {
  const menu = h(
    'div',
    { class: 'overflow-menu', hidden: true },
    optionsOf(el).map((o) => {
      const href = o.url ? safeHref(o.url) : undefined;
      return href
        ? h('a', { class: 'overflow-item', href, target: '_blank', rel: 'noopener noreferrer' }, plainText(o.text))
        : h('span', { class: 'overflow-item inert', title: 'Selecting here sends nothing in the playground' }, plainText(o.text));
    }),
  );
  const toggle = h('button', { type: 'button', class: 'button overflow', dataset: { actionId: el.action_id ?? '' }, onclick: () => (menu.hidden = !menu.hidden) }, '⋯');
  return h('span', { class: 'overflow-wrap' }, toggle, menu);
}

// ---------------------------------------------------------------- inputs (modals)

function valuesOf(viewId) {
  if (!formValues.has(viewId)) formValues.set(viewId, {});
  return formValues.get(viewId);
}

function setValue(ctx, actionId, value) {
  valuesOf(ctx.viewId)[actionId] = value;
  localErrors.get(ctx.viewId)?.delete(actionId);
}

/** The value an input shows: what the user picked, else the view's initial one. */
function currentValue(el, ctx) {
  const picked = ctx.viewId ? formValues.get(ctx.viewId)?.[el.action_id] : undefined;
  if (picked !== undefined) return picked;
  if (el.type === 'plain_text_input' || el.type.endsWith('_input')) return el.initial_value ?? '';
  if (el.type.startsWith('multi_') || el.type === 'checkboxes') return (el.initial_options ?? []).map((o) => o.value);
  return el.initial_option?.value ?? '';
}

function inputBlock(block, ctx) {
  const el = block.element ?? {};
  const error = ctx.errors?.[block.block_id] ?? localErrors.get(ctx.viewId)?.get(block.block_id);
  return h(
    'div',
    { class: `block input${error ? ' has-error' : ''}`, dataset: { blockId: block.block_id ?? '', testid: 'input-block' } },
    h('label', { class: 'input-label' }, plainText(block.label), block.optional ? h('span', { class: 'muted' }, ' (optional)') : null),
    inputElement(el, ctx, false),
    block.hint ? h('div', { class: 'hint' }, plainText(block.hint)) : null,
    error ? h('div', { class: 'input-error', dataset: { testid: 'input-error' } }, error) : null,
  );
}

function inputElement(el, ctx, inert) {
  const actionId = el.action_id ?? '';
  const value = currentValue(el, ctx);
  const placeholder = plainText(el.placeholder);
  switch (el.type) {
    case 'plain_text_input':
    case 'number_input':
    case 'email_text_input':
    case 'url_text_input': {
      const type = { number_input: 'number', email_text_input: 'email', url_text_input: 'url' }[el.type] ?? 'text';
      const field = el.multiline
        ? h('textarea', { class: 'text-input', rows: 3, placeholder, dataset: { actionId } })
        : h('input', { class: 'text-input', type, placeholder, dataset: { actionId } });
      field.value = value;
      if (el.max_length) field.maxLength = el.max_length;
      field.addEventListener('input', () => setValue(ctx, actionId, field.value));
      return field;
    }
    case 'static_select':
    case 'multi_static_select': {
      const multi = el.type === 'multi_static_select';
      const select = h('select', { class: 'select', multiple: multi, disabled: inert, dataset: { actionId } });
      if (!multi) select.append(h('option', { value: '' }, placeholder || 'Choose an option'));
      const option = (o) => h('option', { value: o.value ?? '' }, plainText(o.text));
      for (const o of el.options ?? []) select.append(option(o));
      for (const g of el.option_groups ?? []) select.append(h('optgroup', { label: plainText(g.label) }, (g.options ?? []).map(option)));
      for (const o of select.options) o.selected = multi ? value.includes(o.value) : o.value === value;
      select.addEventListener('change', () => setValue(ctx, actionId, multi ? [...select.selectedOptions].map((o) => o.value) : select.value));
      return select;
    }
    case 'external_select':
    case 'multi_external_select':
      return externalSelect(el, ctx, inert);
    case 'checkboxes':
    case 'radio_buttons': {
      const radio = el.type === 'radio_buttons';
      const picked = new Set(Array.isArray(value) ? value : [value]);
      return h(
        'div',
        { class: 'choices', dataset: { actionId } },
        (el.options ?? []).map((o) => {
          const box = h('input', { type: radio ? 'radio' : 'checkbox', name: `${ctx.viewId ?? 'message'}-${actionId}`, value: o.value ?? '', disabled: inert });
          box.checked = picked.has(o.value);
          box.addEventListener('change', (event) => {
            const all = event.target.closest('.choices').querySelectorAll('input');
            const on = [...all].filter((b) => b.checked).map((b) => b.value);
            setValue(ctx, actionId, radio ? (on[0] ?? '') : on);
          });
          return h(
            'label',
            { class: 'choice' },
            box,
            h('span', {}, textObject(o.text, 'choice-text'), o.description ? h('span', { class: 'hint' }, plainText(o.description)) : null),
          );
        }),
      );
    }
    case 'datepicker':
    case 'timepicker': {
      const field = h('input', { class: 'text-input', type: el.type === 'datepicker' ? 'date' : 'time', dataset: { actionId } });
      field.value = value || el.initial_date || el.initial_time || '';
      field.addEventListener('change', () => setValue(ctx, actionId, field.value));
      return field;
    }
    default:
      return h('span', { class: 'unsupported' }, `[${String(el.type)} input]`);
  }
}

/** An external select: typing asks kdebug for options (Slack's block_suggestion); a click picks one. */
function externalSelect(el, ctx, inert) {
  const actionId = el.action_id ?? '';
  const labels = formLabels.get(ctx.viewId) ?? new Map();
  formLabels.set(ctx.viewId, labels);
  const picked = formValues.get(ctx.viewId)?.[actionId];
  const minQuery = typeof el.min_query_length === 'number' ? el.min_query_length : 3;
  const initialLabel = el.initial_option ? plainText(el.initial_option.text) : '';
  const field = h('input', {
    class: 'text-input select-input',
    type: 'text',
    placeholder: plainText(el.placeholder) || 'Type to search',
    disabled: inert,
    role: 'combobox',
    dataset: { actionId, testid: 'external-select' },
  });
  field.value = picked !== undefined ? (labels.get(actionId) ?? picked) : initialLabel;
  const list = h('ul', { class: 'options-list', role: 'listbox', hidden: true, dataset: { testid: 'options' } });
  let timer;
  let asked = 0;
  const load = async () => {
    const typed = field.value === (labels.get(actionId) ?? initialLabel) ? '' : field.value;
    if (typed.length < minQuery) {
      list.replaceChildren(h('li', { class: 'option muted' }, `Type at least ${minQuery} characters`));
      list.hidden = false;
      return;
    }
    const mine = ++asked;
    list.replaceChildren(h('li', { class: 'option muted' }, 'Loading…'));
    list.hidden = false;
    try {
      // The view's state goes along (Slack sends it in block_suggestion), all but this field's.
      const values = { ...formValues.get(ctx.viewId) };
      delete values[actionId];
      const answer = await api('/api/options', { viewId: ctx.viewId, actionId, value: typed, values });
      if (mine !== asked) return;
      const options = optionsOf(answer);
      list.replaceChildren(
        ...(options.length
          ? options.map((o) =>
              h(
                'li',
                {
                  class: 'option',
                  role: 'option',
                  dataset: { value: o.value ?? '', testid: 'option' },
                  onmousedown: (event) => {
                    event.preventDefault();
                    labels.set(actionId, plainText(o.text));
                    setValue(ctx, actionId, o.value ?? '');
                    field.value = plainText(o.text);
                    list.hidden = true;
                  },
                },
                plainText(o.text),
                o.description ? h('span', { class: 'hint' }, ` ${plainText(o.description)}`) : null,
              ),
            )
          : [h('li', { class: 'option muted' }, 'No matches')]),
      );
    } catch (err) {
      if (mine === asked) list.replaceChildren(h('li', { class: 'option error' }, err.message));
    }
  };
  field.addEventListener('focus', () => {
    field.select();
    void load();
  });
  field.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  field.addEventListener('blur', () => {
    setTimeout(() => (list.hidden = true), 150);
    // Leaving the field shows the pick again: typing alone picks nothing.
    const chosen = formValues.get(ctx.viewId)?.[actionId];
    field.value = chosen !== undefined ? (labels.get(actionId) ?? chosen) : initialLabel;
  });
  return h('div', { class: 'external-select' }, field, list);
}

// ---------------------------------------------------------------- messages

function timeOf(ts) {
  const d = new Date(Number(ts) * 1000);
  return Number.isFinite(d.getTime()) ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : '';
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function avatar(name, bot) {
  return h('div', { class: `avatar${bot ? ' bot' : ''}`, 'aria-hidden': 'true' }, bot ? 'k' : (name[0] ?? '?').toUpperCase());
}

function fileView(f) {
  const pcap = /\.pcap$/i.test(f.name);
  return h(
    'a',
    { class: 'file', href: f.url, download: f.name, dataset: { testid: 'file-link', fileId: f.id } },
    h('span', { class: `file-icon${pcap ? ' pcap' : ''}` }, pcap ? 'PCAP' : 'TXT'),
    h(
      'span',
      { class: 'file-meta' },
      h('span', { class: 'file-name' }, f.title || f.name),
      h('span', { class: 'muted' }, [f.title && f.title !== f.name ? f.name : '', size(f.size), 'download'].filter(Boolean).join(' · ')),
    ),
  );
}

/** A message as Slack draws it; `testid` tells a root from a thread reply. */
function messageView(m, { testid, where, inThread }) {
  const ctx = { kind: 'message', channel: where, ts: m.ts };
  const body = h(
    'div',
    { class: 'message-body' },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'name' }, m.userName),
      m.bot ? h('span', { class: 'badge' }, 'APP') : null,
      h('span', { class: 'time', title: m.ts }, timeOf(m.ts)),
    ),
    m.blocks?.length ? blocksView(m.blocks, ctx) : mrkdwn(m.text),
    m.files.length ? h('div', { class: 'files' }, m.files.map(fileView)) : null,
  );
  if (!inThread && m.replies?.length) {
    const n = m.replies.length;
    body.append(
      h(
        'button',
        { type: 'button', class: 'replies-link', dataset: { testid: 'replies-link' }, onclick: () => openThreadPane(m.ts) },
        h('span', { class: 'avatar tiny bot' }, 'k'),
        `${n} ${n === 1 ? 'reply' : 'replies'}`,
        h('span', { class: 'muted' }, ` Last reply ${timeOf(m.replies[n - 1].ts)}`),
      ),
    );
  }
  return h('div', { class: `message${m.bot ? ' from-bot' : ''}`, dataset: { testid, ts: m.ts, edited: m.edited ? 'true' : 'false' } }, avatar(m.userName, m.bot), body);
}

function ephemeralView(e) {
  return h(
    'div',
    { class: 'message ephemeral', dataset: { testid: 'ephemeral', source: e.source } },
    avatar('kdebug', true),
    h(
      'div',
      { class: 'message-body' },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'name' }, 'kdebug'),
        h('span', { class: 'badge' }, 'APP'),
        h('span', { class: 'only-you' }, '👁 Only visible to you'),
        h(
          'button',
          {
            type: 'button',
            class: 'dismiss',
            onclick: () => {
              dismissed.add(e.id);
              render();
            },
          },
          'Dismiss',
        ),
      ),
      e.blocks?.length ? blocksView(e.blocks, { kind: 'ephemeral' }) : mrkdwn(e.text),
    ),
  );
}

/** Keyed redraw: a node is rebuilt only when what it shows changed (selections and focus survive the rest). */
function reconcile(container, items) {
  const cache = (container._cache ??= new Map());
  const nodes = items.map(({ key, sig, build }) => {
    const hit = cache.get(key);
    if (hit && hit.sig === sig) return hit.node;
    const node = build();
    cache.set(key, { sig, node });
    return node;
  });
  const keep = new Set(items.map((i) => i.key));
  for (const key of cache.keys()) if (!keep.has(key)) cache.delete(key);
  nodes.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] ?? null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

/** Sticks to the bottom when the reader was there. */
function keepScroll(container, draw) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  draw();
  if (atBottom) container.scrollTop = container.scrollHeight;
}

function messageSig(m) {
  return JSON.stringify([m.text, m.blocks, m.files, m.edited, m.replies?.length, m.replies?.at(-1)?.ts]);
}

function renderTimeline(container, messages, ephemerals, where) {
  const items = [
    ...messages.map((m) => ({ order: m.order, key: `m${m.ts}`, sig: messageSig(m), build: () => messageView(m, { testid: 'message', where }) })),
    ...ephemerals.map((e) => ({ order: e.order, key: `e${e.id}`, sig: 'e', build: () => ephemeralView(e) })),
  ].sort((a, b) => a.order - b.order);
  if (items.length === 0) {
    container._cache?.clear();
    container.replaceChildren(h('div', { class: 'empty' }, where === state.channel.id ? 'No messages yet. Type a /kdebug command below, or pick an example.' : 'No messages yet.'));
    return;
  }
  container.querySelector(':scope > .empty')?.remove();
  keepScroll(container, () => reconcile(container, items));
}

function renderThread() {
  const pane = $('thread-pane');
  const root = openThread && state.messages.find((m) => m.ts === openThread);
  if (!root) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  $('thread-channel').textContent = `# ${state.channel.name}`;
  const body = $('thread-body');
  const where = state.channel.id;
  const n = root.replies.length;
  const items = [
    {
      order: -2,
      key: `root${root.ts}`,
      sig: messageSig(root),
      build: () => h('div', { class: 'thread-root' }, messageView(root, { testid: 'thread-root', where, inThread: true })),
    },
    { order: -1, key: `count${n}`, sig: String(n), build: () => h('div', { class: 'reply-count' }, h('span', {}, `${n} ${n === 1 ? 'reply' : 'replies'}`)) },
    ...root.replies.map((m) => ({ order: m.order, key: `m${m.ts}`, sig: messageSig(m), build: () => messageView(m, { testid: 'thread-reply', where, inThread: true }) })),
    ...state.ephemerals.filter((e) => e.thread_ts === root.ts && !dismissed.has(e.id)).map((e) => ({ order: e.order, key: `e${e.id}`, sig: 'e', build: () => ephemeralView(e) })),
  ].sort((a, b) => a.order - b.order);
  keepScroll(body, () => reconcile(body, items));
}

function openThreadPane(ts) {
  const changed = openThread !== ts;
  openThread = ts;
  render();
  if (changed) $('thread-body').scrollTop = 0;
}

// ---------------------------------------------------------------- modal and Home

function showModalError(message) {
  const el = document.querySelector('[data-testid="modal-error"]');
  if (el) {
    el.textContent = message;
    el.hidden = false;
  } else toast(message);
}

function renderModal() {
  const backdrop = $('modal-backdrop');
  const modal = state.modal;
  if (!modal) {
    if (modalKey) {
      for (const id of formValues.keys()) if (id !== state.home?.id) formValues.delete(id);
      localErrors.clear();
    }
    modalKey = '';
    backdrop.hidden = true;
    backdrop.replaceChildren();
    return;
  }
  const local = localErrors.get(modal.id);
  const key = JSON.stringify([modal.id, modal.hash, modal.errors, local ? [...local] : []]);
  if (key === modalKey) return;
  modalKey = key;
  const ctx = { kind: 'modal', viewId: modal.id, errors: modal.errors };
  const close = async (all) => {
    try {
      await api('/api/close', { viewId: modal.id, all });
    } catch (err) {
      toast(err.message);
    }
  };
  const submit = async () => {
    if (!checkRequired(modal)) {
      modalKey = '';
      renderModal();
      return;
    }
    const button = backdrop.querySelector('[data-testid="modal-submit"]');
    if (button) button.disabled = true;
    try {
      await api('/api/submit', { viewId: modal.id, values: formValues.get(modal.id) ?? {} });
    } catch (err) {
      showModalError(err.message);
    } finally {
      if (button) button.disabled = false;
    }
  };
  const dialog = h(
    'div',
    { class: 'modal', role: 'dialog', 'aria-modal': 'true', dataset: { testid: 'modal', viewId: modal.id } },
    h(
      'header',
      { class: 'modal-header' },
      h('h2', { dataset: { testid: 'modal-title' } }, withEmoji(modal.title)),
      h('button', { type: 'button', class: 'icon-button', title: 'Close', dataset: { testid: 'modal-x' }, onclick: () => close(true) }, '✕'),
    ),
    h('div', { class: 'modal-body' }, h('div', { class: 'modal-error', dataset: { testid: 'modal-error' }, hidden: true }), blocksView(modal.blocks, ctx)),
    h(
      'footer',
      { class: 'modal-footer' },
      h(
        'button',
        { type: 'button', class: 'button', dataset: { testid: 'modal-close' }, onclick: () => close(false) },
        withEmoji(modal.close ?? (modal.depth > 1 ? 'Back' : 'Close')),
      ),
      modal.submit ? h('button', { type: 'button', class: 'button primary', dataset: { testid: 'modal-submit' }, onclick: submit }, withEmoji(modal.submit)) : null,
    ),
  );
  // Focus stays where it was when the same view is redrawn (an update after "Show the command").
  const focused = document.activeElement?.dataset?.actionId;
  backdrop.replaceChildren(dialog);
  backdrop.hidden = false;
  if (focused) backdrop.querySelector(`[data-action-id="${CSS.escape(focused)}"]`)?.focus();
}

/** Slack's client keeps a modal open while a required input is empty. */
function checkRequired(modal) {
  const errors = new Map();
  for (const block of modal.blocks) {
    if (block.type !== 'input' || block.optional) continue;
    const value = currentValue(block.element ?? {}, { viewId: modal.id });
    if (value === '' || (Array.isArray(value) && value.length === 0)) errors.set(block.block_id, 'Please complete this required field.');
  }
  localErrors.set(modal.id, errors);
  return errors.size === 0;
}

function renderHome() {
  const home = $('home');
  const view = state.home;
  const key = view ? `${view.id}/${view.hash}` : '';
  if (key === homeKey && home.childElementCount) return;
  homeKey = key;
  home.replaceChildren(view ? blocksView(view.blocks, { kind: 'home', viewId: view.id }) : h('div', { class: 'empty' }, 'Asking kdebug for its Home tab…'));
}

// ---------------------------------------------------------------- screens

function showScreen(which) {
  screen = which;
  $('channel-view').hidden = which !== 'channel';
  $('app-view').hidden = which !== 'app';
  $('channel-button').classList.toggle('active', which === 'channel');
  $('home-button').classList.toggle('active', which === 'app');
  if (which !== 'channel') openThread = undefined;
  render();
}

function showTab(tab) {
  appTab = tab;
  $('tab-home').classList.toggle('active', tab === 'home');
  $('tab-messages').classList.toggle('active', tab === 'messages');
  $('home').hidden = tab !== 'home';
  $('dm').hidden = tab !== 'messages';
  render();
}

async function openHome() {
  showScreen('app');
  showTab('home');
  try {
    // Slack sends app_home_opened on every visit; kdebug publishes the view afresh.
    await api('/api/home', {});
  } catch (err) {
    toast(err.message);
  }
}

let lastBanner = '';
let lastExamples = '';
function renderChrome() {
  document.title = `#${state.channel.name} · kdebug playground`;
  $('channel-name').textContent = state.channel.name;
  $('sidebar-channel-name').textContent = state.channel.name;
  $('composer').placeholder = `Message #${state.channel.name}: type /kdebug … and press Enter`;
  const banner = JSON.stringify(state.notes);
  if (banner !== lastBanner) {
    lastBanner = banner;
    const el = $('banner');
    el.hidden = state.notes.length === 0;
    el.replaceChildren(
      h('span', { class: 'banner-title' }, 'Playground'),
      h(
        'ul',
        {},
        state.notes.map((n) => h('li', {}, mrkdwn(n, 'banner-line'))),
      ),
    );
  }
  const examples = JSON.stringify(state.examples);
  if (examples !== lastExamples) {
    lastExamples = examples;
    $('examples').replaceChildren(
      ...(state.examples.length ? [h('span', { class: 'muted' }, 'Try:')] : []),
      ...state.examples.map((text) =>
        h(
          'button',
          {
            type: 'button',
            class: 'chip',
            dataset: { testid: 'example' },
            onclick: () => {
              const input = $('composer');
              input.value = `/kdebug ${text}`;
              input.focus();
            },
          },
          `/kdebug ${text}`,
        ),
      ),
    );
  }
}

function render() {
  if (!state) return;
  renderChrome();
  const channelEphemerals = state.ephemerals.filter((e) => !e.thread_ts && !dismissed.has(e.id));
  if (screen === 'channel') renderTimeline($('messages'), state.messages, channelEphemerals, state.channel.id);
  renderThread();
  if (screen === 'app' && appTab === 'home') renderHome();
  if (screen === 'app' && appTab === 'messages') renderTimeline($('dm'), state.dm, [], `D${state.user.id.slice(1)}`);
  renderModal();
}

// ---------------------------------------------------------------- the composer

async function send(raw) {
  const errorLine = $('composer-error');
  errorLine.hidden = true;
  const text = raw.trim();
  if (text === '') return;
  const command = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
  if (!command) {
    showComposerError('kdebug answers slash commands: start with /kdebug (e.g. /kdebug help).');
    return;
  }
  if (command[1] !== 'kdebug') {
    showComposerError(`/${command[1]} is not a valid command. In Slack, all messages that start with the "/" character are interpreted as commands.`);
    return;
  }
  const input = $('composer');
  input.value = '';
  sent.push(text);
  recall = -1;
  try {
    await api('/api/command', { text: command[2] });
  } catch (err) {
    if (input.value === '') input.value = text;
    showComposerError(err.message);
  }
}

function showComposerError(message) {
  const errorLine = $('composer-error');
  errorLine.textContent = message;
  errorLine.hidden = false;
}

// ---------------------------------------------------------------- state from the server

let fetching = false;
let again = false;
async function refresh() {
  if (fetching) {
    again = true;
    return;
  }
  fetching = true;
  try {
    do {
      again = false;
      state = await api('/api/state');
      render();
    } while (again);
  } catch (err) {
    $('connection').textContent = `page server unreachable: ${err.message}`;
  } finally {
    fetching = false;
  }
}

function listen() {
  const events = new EventSource('/api/events');
  const status = $('connection');
  events.addEventListener('open', () => {
    status.textContent = 'live';
    status.className = 'connection live';
  });
  events.addEventListener('change', () => void refresh());
  events.addEventListener('error', () => {
    status.textContent = 'reconnecting…';
    status.className = 'connection down';
  });
}

function start() {
  $('composer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void send($('composer').value);
  });
  $('composer').addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
    if (sent.length === 0) return;
    if (event.key === 'ArrowUp') recall = recall === -1 ? sent.length - 1 : Math.max(0, recall - 1);
    else recall = recall === -1 ? -1 : recall + 1;
    if (recall >= sent.length) recall = -1;
    event.target.value = recall === -1 ? '' : sent[recall];
    event.preventDefault();
  });
  $('thread-close').addEventListener('click', () => {
    openThread = undefined;
    render();
  });
  $('channel-button').addEventListener('click', () => showScreen('channel'));
  $('home-button').addEventListener('click', () => void openHome());
  $('tab-home').addEventListener('click', () => void openHome());
  $('tab-messages').addEventListener('click', () => showTab('messages'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state?.modal) void api('/api/close', { viewId: state.modal.id, all: true }).catch((err) => toast(err.message));
  });
  listen();
  void refresh();
}

start();
