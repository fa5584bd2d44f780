// Views (modals and the App Home tab) as Slack takes them: the view object's own limits on top of
// its blocks', the ids Slack fills in, and the `state.values` a submission carries.
import { createHash } from 'node:crypto';
import { initialOptionsOf, isRecord, missing, optionsOf, textOf, tooLong, validateBlocks, validateOptionSource } from './blocks.js';
import type { ViewType } from './types.js';

const MAX_VIEW_BLOCKS = 100;
const MAX_TITLE = 24;
const MAX_PRIVATE_METADATA = 3000;
const MAX_ID = 255;

/** Slack's errors for a `view` argument that must be of `type` (answered as invalid_arguments); empty when it passes. */
export function validateView(view: unknown, type: ViewType): string[] {
  if (!isRecord(view)) return ['must be an object [json-pointer:/view]'];
  if (view.type !== type) return [`must be ${type} [json-pointer:/view/type]`];
  const errors: string[] = [];
  if (!Array.isArray(view.blocks)) errors.push(missing('blocks', '/view'));
  else errors.push(...validateBlocks(view.blocks, '/view/blocks', MAX_VIEW_BLOCKS));
  if (type === 'modal') {
    if (view.title === undefined) errors.push(missing('title', '/view'));
    for (const key of ['title', 'submit', 'close']) {
      const button = view[key];
      if (button === undefined) continue;
      const text = isRecord(button) && button.type === 'plain_text' ? textOf(button) : undefined;
      if (text === undefined) errors.push(`must be a plain_text object [json-pointer:/view/${key}]`);
      else if (text.length > MAX_TITLE) errors.push(tooLong(MAX_TITLE, `/view/${key}/text`));
    }
    // Inputs only come back through the Submit button.
    if (Array.isArray(view.blocks) && view.blocks.some((b) => isRecord(b) && b.type === 'input') && view.submit === undefined) {
      errors.push(`must provide submit when blocks contain an input [json-pointer:/view/submit]`);
    }
  }
  for (const [key, max] of [
    ['private_metadata', MAX_PRIVATE_METADATA],
    ['callback_id', MAX_ID],
    ['external_id', MAX_ID],
  ] as const) {
    const v = view[key];
    if (typeof v === 'string' && v.length > max) errors.push(tooLong(max, `/view/${key}`));
  }
  return errors;
}

/** Problems in an options load answer (block_suggestion): Slack shows the user an error instead of these. */
export function validateOptionsAnswer(answer: unknown): string[] {
  return isRecord(answer) ? validateOptionSource(answer, '') : ['the answer is not a JSON object'];
}

/** A short id like the ones Slack gives blocks and elements that come without one; stable for a seed. */
export function autoId(seed: string): string {
  return createHash('sha256').update(seed).digest('base64url').slice(0, 4);
}

/** The view's blocks with the block_id and action_id Slack fills in where the app gave none. */
export function withIds(blocks: unknown[], viewId: string): Array<Record<string, unknown>> {
  return blocks.filter(isRecord).map((block, i) => {
    const filled: Record<string, unknown> = { ...block, block_id: block.block_id ?? autoId(`${viewId}/${i}`) };
    const withAction = (el: unknown, j: number): unknown =>
      isRecord(el) && el.action_id === undefined && el.type !== 'image' ? { ...el, action_id: autoId(`${viewId}/${i}/${j}`) } : el;
    if (block.type === 'input') filled.element = withAction(block.element, 0);
    if (block.type === 'actions' && Array.isArray(block.elements)) filled.elements = block.elements.map(withAction);
    if (block.type === 'section' && block.accessory !== undefined) filled.accessory = withAction(block.accessory, 0);
    return filled;
  });
}

/** What the user leaves in an input: a text, an option's value, or several values for multi-selects and checkboxes. */
export type InputValue = string | string[];

/**
 * `view.state.values` for a submission, `{ [block_id]: { [action_id]: { type, value | selected_option | selected_options } } }`:
 * each input's `picked` value (by action_id) or else its initial value. Throws where Slack's client
 * would not submit: a value the input does not offer (an external select offers what the app's
 * options load answered), a required input left empty, a text outside min_length/max_length.
 */
export function submittedState(
  blocks: Array<Record<string, unknown>>,
  picked: Record<string, InputValue>,
  offered: (actionId: string) => Record<string, unknown>[],
  /** A submission needs every required input; a button clicked in the view sees them as they are. */
  requireFilled = true,
): Record<string, Record<string, unknown>> {
  const values: Record<string, Record<string, unknown>> = {};
  const unknown = new Set(Object.keys(picked));
  for (const block of blocks) {
    if (block.type !== 'input' || !isRecord(block.element)) continue;
    const actionId = String(block.element.action_id);
    const label = textOf(block.label) ?? actionId;
    unknown.delete(actionId);
    const state = inputState(block.element, picked[actionId], offered(actionId), label);
    const empty = state.value === null || state.selected_option === null || (Array.isArray(state.selected_options) && state.selected_options.length === 0);
    if (empty && block.optional !== true && requireFilled) throw new Error(`Slack would not submit: "${label}" is required`);
    (values[String(block.block_id)] ??= {})[actionId] = state;
  }
  if (unknown.size > 0) throw new Error(`the view has no input with action_id ${[...unknown].join(', ')}`);
  return values;
}

function inputState(el: Record<string, unknown>, pick: InputValue | undefined, offered: Record<string, unknown>[], label: string): Record<string, unknown> {
  const type = String(el.type);
  const initial = initialOptionsOf(el);
  const choices = type.endsWith('external_select') ? [...offered, ...initial] : optionsOf(el);
  const choose = (value: string): Record<string, unknown> => {
    const option = choices.find((o) => o.value === value);
    if (!option) throw new Error(`"${label}" offers no option ${value} (it offers: ${choices.map((o) => String(o.value)).join(', ') || 'none'})`);
    return option;
  };
  const one = (v: InputValue): string => {
    if (Array.isArray(v)) throw new Error(`"${label}" takes one value`);
    return v;
  };
  switch (type) {
    case 'plain_text_input': {
      const value = pick === undefined ? (typeof el.initial_value === 'string' ? el.initial_value : '') : one(pick);
      const [min, max] = [Number(el.min_length ?? 0), Number(el.max_length ?? 3000)];
      if (value !== '' && (value.length < min || value.length > max)) throw new Error(`Slack would not submit: "${label}" takes ${min} to ${max} characters`);
      return { type, value: value === '' ? null : value };
    }
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { type, selected_option: pick === undefined ? (initial[0] ?? null) : choose(one(pick)) };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { type, selected_options: pick === undefined ? initial : (Array.isArray(pick) ? pick : [pick]).map(choose) };
    default:
      throw new Error(`the emulator does not model the state of ${type} inputs`);
  }
}
