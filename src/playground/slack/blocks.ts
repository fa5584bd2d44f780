// The Block Kit limits Slack enforces server-side, reported the way Slack reports them:
// one "<problem> [json-pointer:<path>]" string per violation.

const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_SECTION_FIELDS = 10;
const MAX_FIELD_TEXT = 2000;
const MAX_HEADER_TEXT = 150;
const MAX_CONTEXT_ELEMENTS = 10;
const MAX_ACTIONS_ELEMENTS = 25;
const MAX_BLOCK_ID = 255;
const MAX_ACTION_ID = 255;
const MAX_LABEL = 2000;
const MAX_PLACEHOLDER = 150;
const MAX_BUTTON_TEXT = 75;
const MAX_BUTTON_VALUE = 2000;
const MAX_URL = 3000;
const MAX_TEXT_INPUT = 3000;
const MAX_OPTION_TEXT = 75;
const MAX_OPTION_VALUE = 150;
const MAX_SELECT_OPTIONS = 100;
const MAX_CHOICE_OPTIONS = 10;

/** What an input block may hold (Slack's list); the emulator models the state of some of them (views.ts). */
const INPUT_ELEMENTS = new Set([
  'plain_text_input',
  'number_input',
  'email_text_input',
  'url_text_input',
  'rich_text_input',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'radio_buttons',
  'checkboxes',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'file_input',
]);

export const tooLong = (max: number, pointer: string): string => `must be less than ${max + 1} characters [json-pointer:${pointer}]`;
const tooMany = (max: number, pointer: string): string => `no more than ${max} items allowed [json-pointer:${pointer}]`;
export const missing = (field: string, pointer: string): string => `missing required field: ${field} [json-pointer:${pointer}]`;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function textOf(obj: unknown): string | undefined {
  return isRecord(obj) && typeof obj.text === 'string' ? obj.text : undefined;
}

function checkLength(errors: string[], value: unknown, max: number, pointer: string): void {
  if (typeof value === 'string' && value.length > max) errors.push(tooLong(max, pointer));
}

/** A select's or choice's options: at most `max`, each with text ≤ 75 and value ≤ 150 characters. */
function validateOptions(options: unknown, at: string, max: number): string[] {
  if (!Array.isArray(options)) return [missing('options', at)];
  const errors: string[] = [];
  if (options.length > max) errors.push(tooMany(max, at));
  options.forEach((option, i) => {
    if (!isRecord(option) || textOf(option.text) === undefined) {
      errors.push(missing('text', `${at}/${i}`));
      return;
    }
    checkLength(errors, textOf(option.text), MAX_OPTION_TEXT, `${at}/${i}/text/text`);
    checkLength(errors, option.value, MAX_OPTION_VALUE, `${at}/${i}/value`);
    checkLength(errors, textOf(option.description), MAX_OPTION_TEXT, `${at}/${i}/description/text`);
  });
  return errors;
}

/** `options` or `option_groups` (each with a label and its own options), exactly one of them. */
export function validateOptionSource(holder: Record<string, unknown>, at: string): string[] {
  if ((holder.options === undefined) === (holder.option_groups === undefined)) return [`must provide exactly one of options or option_groups [json-pointer:${at}]`];
  if (holder.options !== undefined) return validateOptions(holder.options, `${at}/options`, MAX_SELECT_OPTIONS);
  const groups = holder.option_groups;
  if (!Array.isArray(groups)) return [missing('option_groups', at)];
  const errors = groups.length > MAX_SELECT_OPTIONS ? [tooMany(MAX_SELECT_OPTIONS, `${at}/option_groups`)] : [];
  groups.forEach((group, i) => {
    const g = `${at}/option_groups/${i}`;
    if (!isRecord(group) || textOf(group.label) === undefined) {
      errors.push(missing('label', g));
      return;
    }
    checkLength(errors, textOf(group.label), MAX_OPTION_TEXT, `${g}/label/text`);
    errors.push(...validateOptions(group.options, `${g}/options`, MAX_SELECT_OPTIONS));
  });
  return errors;
}

/** Every option a static select offers, groups flattened. */
export function optionsOf(element: Record<string, unknown>): Record<string, unknown>[] {
  const groups = Array.isArray(element.option_groups) ? element.option_groups : [];
  const grouped = groups.flatMap((g: unknown) => (isRecord(g) && Array.isArray(g.options) ? (g.options as unknown[]) : []));
  return [...(Array.isArray(element.options) ? (element.options as unknown[]) : []), ...grouped].filter(isRecord);
}

/** An element's initial_option or initial_options. */
export function initialOptionsOf(element: Record<string, unknown>): Record<string, unknown>[] {
  const many: unknown[] = Array.isArray(element.initial_options) ? element.initial_options : [];
  return [element.initial_option, ...many].filter(isRecord);
}

function validateElement(el: unknown, at: string): string[] {
  if (!isRecord(el) || typeof el.type !== 'string') return [missing('type', at)];
  const errors: string[] = [];
  checkLength(errors, el.action_id, MAX_ACTION_ID, `${at}/action_id`);
  checkLength(errors, textOf(el.placeholder), MAX_PLACEHOLDER, `${at}/placeholder/text`);
  switch (el.type) {
    case 'button':
      if (textOf(el.text) === undefined) errors.push(missing('text', at));
      checkLength(errors, textOf(el.text), MAX_BUTTON_TEXT, `${at}/text/text`);
      checkLength(errors, el.value, MAX_BUTTON_VALUE, `${at}/value`);
      checkLength(errors, el.url, MAX_URL, `${at}/url`);
      break;
    case 'plain_text_input':
      for (const key of ['min_length', 'max_length'] as const) {
        const n = el[key];
        if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_TEXT_INPUT)) {
          errors.push(`must be an integer from 0 to ${MAX_TEXT_INPUT} [json-pointer:${at}/${key}]`);
        }
      }
      checkLength(errors, el.initial_value, typeof el.max_length === 'number' ? el.max_length : MAX_TEXT_INPUT, `${at}/initial_value`);
      break;
    case 'static_select':
    case 'multi_static_select': {
      errors.push(...validateOptionSource(el, at));
      // An initial option must be one of the options, as Slack compares them.
      const values = new Set(optionsOf(el).map((o) => o.value));
      if (initialOptionsOf(el).some((o) => !values.has(o.value))) errors.push(`initial option must match one of the options [json-pointer:${at}]`);
      break;
    }
    case 'external_select':
    case 'multi_external_select': {
      const n = el.min_query_length;
      if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 0)) errors.push(`must be a non-negative integer [json-pointer:${at}/min_query_length]`);
      if (el.options !== undefined || el.option_groups !== undefined) errors.push(`options come from the app's options load URL [json-pointer:${at}/options]`);
      break;
    }
    case 'radio_buttons':
    case 'checkboxes':
      errors.push(...validateOptions(el.options, `${at}/options`, MAX_CHOICE_OPTIONS));
      break;
    default:
      break;
  }
  return errors;
}

/** The interactive elements of a block with their JSON pointers: an input's element, actions' elements, a section's accessory. */
export function elementsOf(block: Record<string, unknown>, at: string): Array<{ element: unknown; at: string }> {
  if (block.type === 'input') return block.element === undefined ? [] : [{ element: block.element, at: `${at}/element` }];
  if (block.type === 'actions' && Array.isArray(block.elements)) return block.elements.map((element: unknown, j) => ({ element, at: `${at}/elements/${j}` }));
  if (block.type === 'section' && block.accessory !== undefined) return [{ element: block.accessory, at: `${at}/accessory` }];
  return [];
}

/**
 * Returns Slack's error strings for the given blocks; empty when they pass. `root` is where they
 * sit in the request (a view's are under /view/blocks) and `maxBlocks` the surface's limit
 * (50 in a message, 100 in a modal or the Home tab).
 */
export function validateBlocks(blocks: unknown[], root = '/blocks', maxBlocks = MAX_BLOCKS): string[] {
  const errors: string[] = [];
  if (blocks.length > maxBlocks) errors.push(tooMany(maxBlocks, root));
  const blockIds = new Set<string>();

  blocks.forEach((block, i) => {
    const at = `${root}/${i}`;
    if (!isRecord(block) || typeof block.type !== 'string') {
      errors.push(missing('type', at));
      return;
    }
    if (typeof block.block_id === 'string') {
      checkLength(errors, block.block_id, MAX_BLOCK_ID, `${at}/block_id`);
      // Interactions and view state are keyed by block_id (and action_id within a block).
      if (blockIds.has(block.block_id)) errors.push(`duplicate block_id ${block.block_id} [json-pointer:${at}/block_id]`);
      blockIds.add(block.block_id);
    }
    const actionIds = new Set<string>();
    for (const { element, at: elAt } of elementsOf(block, at)) {
      errors.push(...validateElement(element, elAt));
      const actionId = isRecord(element) ? element.action_id : undefined;
      if (typeof actionId !== 'string') continue;
      if (actionIds.has(actionId)) errors.push(`duplicate action_id ${actionId} [json-pointer:${elAt}/action_id]`);
      actionIds.add(actionId);
    }
    switch (block.type) {
      case 'section': {
        checkLength(errors, textOf(block.text), MAX_SECTION_TEXT, `${at}/text/text`);
        if (Array.isArray(block.fields)) {
          if (block.fields.length > MAX_SECTION_FIELDS) errors.push(tooMany(MAX_SECTION_FIELDS, `${at}/fields`));
          block.fields.forEach((field, j) => checkLength(errors, textOf(field), MAX_FIELD_TEXT, `${at}/fields/${j}/text`));
        }
        if (block.text === undefined && block.fields === undefined) {
          errors.push(`must provide either text or fields [json-pointer:${at}]`);
        }
        break;
      }
      case 'header':
        checkLength(errors, textOf(block.text), MAX_HEADER_TEXT, `${at}/text/text`);
        break;
      case 'context':
        if (Array.isArray(block.elements) && block.elements.length > MAX_CONTEXT_ELEMENTS) {
          errors.push(tooMany(MAX_CONTEXT_ELEMENTS, `${at}/elements`));
        }
        break;
      case 'actions':
        if (Array.isArray(block.elements) && block.elements.length > MAX_ACTIONS_ELEMENTS) {
          errors.push(tooMany(MAX_ACTIONS_ELEMENTS, `${at}/elements`));
        }
        break;
      case 'input': {
        if (textOf(block.label) === undefined) errors.push(missing('label', at));
        checkLength(errors, textOf(block.label), MAX_LABEL, `${at}/label/text`);
        checkLength(errors, textOf(block.hint), MAX_LABEL, `${at}/hint/text`);
        const type = isRecord(block.element) ? block.element.type : undefined;
        if (block.element === undefined) errors.push(missing('element', at));
        else if (typeof type === 'string' && !INPUT_ELEMENTS.has(type)) errors.push(`${type} is not a valid input element [json-pointer:${at}/element/type]`);
        break;
      }
      default:
        break;
    }
  });
  return errors;
}
