// The tests' web site: the playground's web servers (src/playground/web-servers.ts) plus servers
// that misbehave, under names, and a way to run the real curl and openssl against them by name.
//
// • startSilentServer: accepts connections and never says a word (the timeout cases).
// • startHangUpServer: reads what the client sends first, then hangs up without a word.
// • startNameServer + runTool: names such as valid.tls.test must resolve without the host's DNS
//   (which is not on loopback), so each tool runs in a private mount namespace whose
//   /etc/resolv.conf points at a DnsServer on 127.0.0.0/8. Needs root, `unshare` and `mount`.
// • startSite: all of the above at once, each server under its own name.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERT_HOSTS, CERT_KINDS, testCerts, type CertKind, type TestCerts } from '../../src/playground/certs.js';
import { DnsServer } from '../../src/playground/dns-server.js';
import { listen, startHttpServer, startHttpsServer, type Listening, type ListenOptions } from '../../src/playground/web-servers.js';

/** Accepts TCP connections and never answers: not an HTTP response, not a TLS ServerHello. */
export function startSilentServer(options: ListenOptions = {}): Promise<Listening> {
  return listen(
    net.createServer(() => {}),
    options,
  );
}

/**
 * Reads the client's first bytes (request or ClientHello), then closes without answering. Reading
 * first makes the close a clean FIN: closing with unread data would send a reset instead, and
 * which of the two a client sees would depend on timing.
 */
export function startHangUpServer(options: ListenOptions = {}): Promise<Listening> {
  return listen(
    net.createServer((socket) => socket.once('data', () => socket.end())),
    options,
  );
}

/** A port on `host` that nothing listens on right now (connecting to it is refused). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const probe = await listen(net.createServer(), { host });
  await probe.close();
  return probe.port;
}

// ---------------------------------------------------------------------------------------------
// Names

export interface NameServer {
  /** A resolv.conf naming the server; give it to runTool. */
  resolvConf: string;
  stop(): Promise<void>;
}

/**
 * A DNS server on `host`:53 answering A records for `names`, and NXDOMAIN for anything else under
 * the zones (`.invalid` included, for the dns-failure cases). Port 53 because resolv.conf has no
 * way to name another port.
 */
export async function startNameServer(host: string, names: Record<string, string>, zones: string[]): Promise<NameServer> {
  const server = new DnsServer({ host, port: 53, zones: [...zones, 'invalid'] });
  for (const [name, ip] of Object.entries(names)) server.addRecord(name, 'A', ip);
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'kdebug-resolv-'));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${host}\noptions timeout:1 attempts:1\n`);
  return {
    resolvConf,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ToolRun {
  /** null when the tool was killed after `timeoutMs`. */
  exitCode: number | null;
  /** stdout and stderr interleaved, like a container log. */
  output: string;
}

/**
 * Run argv as the debug container would: stdin closed (openssl s_client reads it), stdout and
 * stderr in one stream, and `resolvConf` bind-mounted over /etc/resolv.conf in a private mount
 * namespace, so the host's own resolver configuration is never touched.
 */
export function runTool(argv: string[], resolvConf: string, timeoutMs = 30_000): Promise<ToolRun> {
  const script = 'mount --bind "$0" /etc/resolv.conf && exec "$@" 2>&1';
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', 'sh', '-c', script, resolvConf, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    // Only the namespace set-up itself writes here (mount or unshare failing).
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (/^(mount|unshare): /m.test(output)) reject(new Error(`cannot set up the mount namespace (root needed): ${output}`));
      else resolve({ exitCode: killed ? null : code, output });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A whole site

/** Every server of a site, by role. */
export type EndpointName = 'web' | 'stuck-http' | 'stuck-tls' | 'hang-up' | 'closed' | CertKind | 'alias-of-expired';

export interface Endpoint {
  /** The name the tools use; it resolves only through the site's name server. */
  host: string;
  port: number;
  /** The address behind the name. */
  ip: string;
}

export interface Site {
  endpoints: Record<EndpointName, Endpoint>;
  certs: TestCerts;
  /** runTool with the site's resolver. */
  run(argv: string[], timeoutMs?: number): Promise<ToolRun>;
  stop(): Promise<void>;
}

export interface SiteOptions {
  /**
   * `{ fixed: '127.77' }`: every server gets its own address (127.77.0.1, 127.77.0.2...) and the
   * standard port (80 plain, 443 TLS), so recorded output reads like production and is the same
   * on every recording. `random`: everything on 127.0.0.1 with free ports (for tests).
   */
  addresses: { fixed: string } | 'random';
  /** Where the name server listens (port 53), e.g. "127.77.53.53". */
  nameserver: string;
}

/** `http://web.http.test/healthz`, with the port only when it is not the scheme's default. */
export function urlOf(endpoint: Endpoint, scheme: 'http' | 'https', path = '/'): string {
  const standard = scheme === 'http' ? 80 : 443;
  return `${scheme}://${endpoint.host}${endpoint.port === standard ? '' : `:${endpoint.port}`}${path}`;
}

/**
 * Starts the servers and a name server for them:
 *   web.http.test      plain HTTP (200 on /healthz, /status/NNN)
 *   stuck.http.test    silent, on an HTTP port;  stuck.tls.test: silent, on a TLS port
 *   hang-up.http.test  reads, then hangs up without answering
 *   closed.http.test   nothing listens there (port 80 plain, 443 for TLS with fixed addresses)
 *   <kind>.tls.test    HTTPS with each kind of test certificate (see certs.ts)
 *   alias.tls.test     another name for the expired server, which its certificate does not cover
 *   *.invalid          NXDOMAIN
 */
export async function startSite({ addresses, nameserver }: SiteOptions): Promise<Site> {
  const certs = await testCerts();
  const fixed = addresses === 'random' ? undefined : addresses.fixed;
  const started: Listening[] = [];
  const endpoints = {} as Record<EndpointName, Endpoint>;
  let next = 0;
  /** The next address: `${fixed}.0.1`, `${fixed}.0.2`... or 127.0.0.1 for everything. */
  const nextIp = () => {
    next += 1;
    return fixed ? `${fixed}.${Math.floor(next / 250)}.${next % 250 || 250}` : '127.0.0.1';
  };

  async function add(name: EndpointName, host: string, tls: boolean, start: (options: ListenOptions) => Promise<Listening>): Promise<void> {
    const ip = nextIp();
    const listening = await start({ host: ip, port: fixed ? (tls ? 443 : 80) : 0 });
    started.push(listening);
    endpoints[name] = { host, port: listening.port, ip };
  }

  try {
    await add('web', 'web.http.test', false, startHttpServer);
    await add('stuck-http', 'stuck.http.test', false, startSilentServer);
    await add('stuck-tls', 'stuck.tls.test', true, startSilentServer);
    await add('hang-up', 'hang-up.http.test', false, startHangUpServer);
    for (const kind of CERT_KINDS) await add(kind, CERT_HOSTS[kind], true, (options) => startHttpsServer(certs.certs[kind], options));
    endpoints['alias-of-expired'] = { ...endpoints.expired, host: 'alias.tls.test' };
    const closedIp = nextIp();
    endpoints.closed = { host: 'closed.http.test', ip: closedIp, port: fixed ? 80 : await closedPort(closedIp) };

    const names = Object.fromEntries(Object.values(endpoints).map((e) => [e.host, e.ip]));
    const resolver = await startNameServer(nameserver, names, ['http.test', 'tls.test']);
    return {
      endpoints,
      certs,
      run: (argv, timeoutMs) => runTool(argv, resolver.resolvConf, timeoutMs),
      async stop() {
        await resolver.stop();
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
