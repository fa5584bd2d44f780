// The one validator for hosts and host:port that every check uses, so `ping 10.1`, `conn 10.1 80`
// and `tls 10.1:443` are refused alike. A host that passes is safe in an argv and means one thing.
import { isIPv4, isIPv6 } from 'node:net';

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
/** Parts of a shortened or odd IPv4 literal (`10.1`, `0x0a.1`), which tools read in surprising ways. */
const NUMERIC_PART = /^(?:0x[0-9a-f]*|\d+)$/i;

export function isIpAddress(host: string): boolean {
  return isIPv4(host) || isIPv6(host);
}

/** Why `name` is not a DNS name (dot-separated labels of letters, digits, `-` and `_`), or undefined. */
export function dnsNameProblem(name: string): string | undefined {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length > 253) return `\`${name.slice(0, 40)}…\` is longer than 253 characters`;
  for (const label of bare.split('.')) {
    if (label === '') return `\`${name}\` has an empty label (two dots in a row, or a leading dot), so it is not a valid host name`;
    if (label.length > 63) return `\`${name}\` has a label longer than 63 characters`;
    if (!LABEL.test(label)) {
      const bad = [...label].find((c) => !/[A-Za-z0-9_-]/.test(c)) ?? '';
      return `\`${name}\` contains \`${bad}\`; host names may only use letters, digits, \`-\`, \`_\` and dots, so it is not a valid host name`;
    }
    if (label.startsWith('-') || label.endsWith('-')) return `\`${name}\` has a label that starts or ends with \`-\`, so it is not a valid host name`;
  }
  return undefined;
}

/** Why `host` is neither a DNS name nor an IP address we will hand to a tool, or undefined when it is fine. */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty; give a DNS name or an IP address, e.g. `db.prod` or `10.0.0.5`';
  if (host.startsWith('-')) return `\`${host}\` starts with \`-\` and would be read as an option; no host name does`;
  if (host.includes('%')) return `\`${host}\`: interface zone ids (\`%…\`) are not supported`;
  if (isIpAddress(host)) return undefined;
  if (host.includes('://') || host.includes('/')) return `\`${host}\` looks like a URL; give just the host name, e.g. \`db.prod.svc.cluster.local\``;
  if (host.includes(':')) return `\`${host}\` is neither an IPv6 address nor a host name`;
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  if (labels.length <= 4 && labels.every((l) => NUMERIC_PART.test(l))) {
    return `\`${host}\` is not a valid IPv4 address; write all four parts, e.g. \`10.0.0.5\``;
  }
  return dnsNameProblem(host);
}

/** `[fd00::5]` → `fd00::5`; anything else trimmed. */
export function normalizeHost(text: string): string {
  const trimmed = String(text ?? '').trim();
  const bracketed = /^\[([^\]]*)\]$/.exec(trimmed);
  return bracketed && isIPv6(bracketed[1] ?? '') ? (bracketed[1] ?? '') : trimmed;
}

/** `db.prod:5432`, `[fd00::5]:5432`. */
export function formatHostPort(host: string, port: number | string): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A TCP/UDP port from 1 to 65535, or undefined. */
export function parsePort(text: string): number | undefined {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

export type HostPortResult = { ok: true; host: string; port?: number } | { ok: false; message: string };

/**
 * `host`, `host:port`, `IPv4:port`, `IPv6`, `[IPv6]` or `[IPv6]:port`. A bare IPv6 address is never
 * split at a colon (`::1:53` is an address; `[::1]:53` has a port). `port` is absent when none was given.
 */
export function parseHostPort(text: string): HostPortResult {
  const raw = String(text ?? '').trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(raw);
  const withPort = /^([^:]*):([^:]*)$/.exec(raw);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (!isIPv6(host)) return { ok: false, message: `\`${raw}\`: \`${host}\` is not an IPv6 address` };
  } else if (isIPv6(raw) || !raw.includes(':')) {
    host = raw;
  } else if (withPort) {
    host = withPort[1] ?? '';
    portText = withPort[2];
  } else {
    return { ok: false, message: `\`${raw}\` is not a host[:port]: it is neither an IPv6 address nor a host name with a port` };
  }
  const problem = hostProblem(host);
  if (problem) return { ok: false, message: problem };
  if (portText === undefined) return { ok: true, host };
  const port = parsePort(portText);
  if (port === undefined) return { ok: false, message: `\`${raw}\`: the port must be a number from 1 to 65535` };
  return { ok: true, host, port };
}
