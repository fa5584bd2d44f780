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
