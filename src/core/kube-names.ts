// Kubernetes name validation, done before any name leaves the process: a name that passes here is
// safe to put in an API path or a label selector. The rules mirror k8s.io/apimachinery validation.

export const MAX_LABEL_LENGTH = 63;
export const MAX_SUBDOMAIN_LENGTH = 253;

const LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
/** The shape of an RFC 1123 label, without the length limit (pair it with MAX_LABEL_LENGTH). */
export const DNS1123_LABEL = new RegExp(`^${LABEL}$`);
/**
 * The shape of an RFC 1123 subdomain, without the length limit (pair it with MAX_SUBDOMAIN_LENGTH).
 * Each dot-separated part is itself a label, so `a..b` and `a.-b` are rejected as Kubernetes does.
 */
export const DNS1123_SUBDOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** RFC 1123 label: namespaces, container names. At most 63 lower-case alphanumerics and '-'. */
export function isDns1123Label(value: string): boolean {
  return value.length <= MAX_LABEL_LENGTH && DNS1123_LABEL.test(value);
}

/** RFC 1123 subdomain: pod and workload names. At most 253 characters, dot-separated labels. */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && DNS1123_SUBDOMAIN.test(value);
}

export type KubeNameRule = 'label' | 'subdomain';

export function isValidKubeName(value: string, rule: KubeNameRule): boolean {
  return rule === 'label' ? isDns1123Label(value) : isDns1123Subdomain(value);
}

/**
 * Why `value` is not a valid name, as one friendly sentence, or undefined when it is valid.
 * `what` names the thing in the message, e.g. "pod name" or "namespace".
 */
export function kubeNameProblem(value: string, rule: KubeNameRule, what: string): string | undefined {
  if (isValidKubeName(value, rule)) return undefined;
  if (value === '') return `The ${what} is empty.`;

  // The most common mistake is copying a name with capitals in it: offer the fix when it works.
  const lower = value.toLowerCase();
  if (lower !== value && isValidKubeName(lower, rule)) {
    return `Kubernetes names are lower-case: did you mean ${inlineCode(lower)}?`;
  }

  const max = rule === 'label' ? MAX_LABEL_LENGTH : MAX_SUBDOMAIN_LENGTH;
  if (value.length > max) {
    return `That ${what} is ${value.length} characters long; Kubernetes allows at most ${max}.`;
  }
  const allowed = rule === 'label' ? "lower-case letters, digits and '-'" : "lower-case letters, digits, '-' and '.'";
  return `${inlineCode(value)} isn't a valid ${what}: use only ${allowed}, starting and ending with a letter or digit.`;
}

// A label key: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_KEY = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*/)?${LABEL_NAME}$`);
const LABEL_VALUE = new RegExp(`^(?:${LABEL_NAME})?$`);
// key=value, key==value, key!=value, key, !key (equality and existence; no set-based forms).
const REQUIREMENT = /^(!?)([^=!]+)(?:(==|=|!=)(.*))?$/s;

/**
 * Why a label selector (`app=web,tier!=db`) is not one kdebug takes, as one sentence, or undefined.
 * Only equality and existence requirements, comma-separated: they are all `-l` needs, and each
 * part is checked as the API server would check it, so nothing unvalidated reaches a query string.
 */
export function labelSelectorProblem(selector: string): string | undefined {
  const forms = 'Use `key=value`, `key!=value`, `key` or `!key`, comma-separated, e.g. `-l app=web,tier=frontend`.';
  if (selector === '') return `The label selector is empty. ${forms}`;
  if (selector.length > 1024) return `That label selector is ${selector.length} characters long; 1024 at most.`;
  for (const part of selector.split(',')) {
    const m = REQUIREMENT.exec(part);
    const [, not, key = '', op, value = ''] = m ?? [];
    const problem =
      !m || (not && op) || /[\s()]/.test(part)
        ? `${inlineCode(part)} isn't a label requirement kdebug takes.`
        : !LABEL_KEY.test(key) || key.split('/').pop()!.length > MAX_LABEL_LENGTH
          ? `${inlineCode(key)} isn't a valid label key.`
          : op && !LABEL_VALUE.test(value)
            ? `${inlineCode(value)} isn't a valid label value.`
            : undefined;
    if (problem) return `${problem} ${forms}`;
  }
  return undefined;
}

/**
 * Show user input inside a message as a Slack/Markdown code span: shortened so a pasted log line
 * doesn't flood the reply, with backticks and line breaks removed so the span can't be broken.
 */
export function inlineCode(value: string, maxLength = 60): string {
  let shown = value.replace(/[`\r\n\t]/g, ' ');
  const chars = Array.from(shown);
  if (chars.length > maxLength) shown = `${chars.slice(0, maxLength - 1).join('')}…`;
  return `\`${shown}\``;
}
