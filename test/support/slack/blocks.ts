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

const tooLong = (max: number, pointer: string): string => `must be less than ${max + 1} characters [json-pointer:${pointer}]`;
const tooMany = (max: number, pointer: string): string => `no more than ${max} items allowed [json-pointer:${pointer}]`;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(obj: unknown): string | undefined {
  return isRecord(obj) && typeof obj.text === 'string' ? obj.text : undefined;
}

/** Returns Slack's error strings for the given blocks; empty when they pass. */
export function validateBlocks(blocks: unknown[]): string[] {
  const errors: string[] = [];
  if (blocks.length > MAX_BLOCKS) errors.push(tooMany(MAX_BLOCKS, '/blocks'));

  blocks.forEach((block, i) => {
    const at = `/blocks/${i}`;
    if (!isRecord(block) || typeof block.type !== 'string') {
      errors.push(`missing required field: type [json-pointer:${at}]`);
      return;
    }
    if (typeof block.block_id === 'string' && block.block_id.length > MAX_BLOCK_ID) {
      errors.push(tooLong(MAX_BLOCK_ID, `${at}/block_id`));
    }
    switch (block.type) {
      case 'section': {
        const text = textOf(block.text);
        if (text !== undefined && text.length > MAX_SECTION_TEXT) errors.push(tooLong(MAX_SECTION_TEXT, `${at}/text/text`));
        if (Array.isArray(block.fields)) {
          if (block.fields.length > MAX_SECTION_FIELDS) errors.push(tooMany(MAX_SECTION_FIELDS, `${at}/fields`));
          block.fields.forEach((field, j) => {
            const t = textOf(field);
            if (t !== undefined && t.length > MAX_FIELD_TEXT) errors.push(tooLong(MAX_FIELD_TEXT, `${at}/fields/${j}/text`));
          });
        }
        if (block.text === undefined && block.fields === undefined) {
          errors.push(`must provide either text or fields [json-pointer:${at}]`);
        }
        break;
      }
      case 'header': {
        const text = textOf(block.text);
        if (text !== undefined && text.length > MAX_HEADER_TEXT) errors.push(tooLong(MAX_HEADER_TEXT, `${at}/text/text`));
        break;
      }
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
      default:
        break;
    }
  });
  return errors;
}
