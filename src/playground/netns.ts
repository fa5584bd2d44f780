// Per-pod network namespaces for tests: each "pod" gets its own netns joined to the host by a veth pair
// in 10.213.0.0/16, and its own /etc/netns/<name>/resolv.conf (which `ip netns exec` bind-mounts over
// /etc/resolv.conf), so real tools such as dig run with the pod's network and resolver configuration.
//
// No default route is added inside the namespace on purpose: a pod can only reach its host-side
// address (where a test binds its DNS server, for example), never anything off this machine.
import { execFile } from 'node:child_process';
import { mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface PodNetwork {
  /** Name of the network namespace, usable with `ip netns exec <netns> ...`. */
  netns: string;
  /** Address of the host side of the veth pair (reachable from the pod). */
  hostIp: string;
  /** Address of the pod side, inside the namespace. */
  podIp: string;
  /** Removes the veth pair, the namespace and /etc/netns/<netns>. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface PodNetworkOptions {
  /** 'host' (the default) points the pod's resolver at hostIp; any other value is used as the address. */
  nameserver?: string;
  search?: string[];
  ndots?: number;
}

/** 10.213.0.0/16 cut into /30 blocks: .0 network, .1 host side, .2 pod side, .3 broadcast. */
const SUBNET_COUNT = 1 << 14;
/** Subnet reservations shared by every process on this machine (jest workers run in parallel). */
const LOCK_DIR = join(tmpdir(), 'kdebug-netns-locks');
const NAME_PREFIX = 'kd';

let counter = 0;
let staleSwept = false;

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { timeout: 15_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** Returns null when network namespaces can be created here, else the reason they cannot. */
export async function netnsAvailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (run the tests as root)';
  try {
    await execFileAsync('ip', ['-V'], { timeout: 5_000 });
  } catch {
    return "the 'ip' command (iproute2) is missing: apt-get install iproute2";
  }
  try {
    await execFileAsync('ip', ['netns', 'list'], { timeout: 5_000 });
  } catch (err) {
    return `'ip netns list' failed: ${(err as Error).message}`;
  }
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Atomically reserves subnet `index` for this process; takes over reservations of dead processes. */
async function reserveSubnet(index: number): Promise<boolean> {
  const file = join(LOCK_DIR, String(index));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (owner > 0 && isAlive(owner)) return false;
      // Left behind by a crashed run: free it and try once more.
      await unlink(file).catch(() => undefined);
    }
  }
  return false;
}

async function releaseSubnet(index: number): Promise<void> {
  const file = join(LOCK_DIR, String(index));
  const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (owner === process.pid) await unlink(file).catch(() => undefined);
}

/** Addresses already configured on this machine inside 10.213/16 (a crashed run may have left some). */
async function usedSubnets(): Promise<Set<number>> {
  const used = new Set<number>();
  const out = await ip(['-4', '-o', 'addr', 'show']).catch(() => '');
  for (const m of out.matchAll(/inet 10\.213\.(\d+)\.(\d+)\//g)) {
    used.add((Number(m[1]) * 256 + Number(m[2])) >> 2);
  }
  return used;
}

/** Removes namespaces (and their /etc/netns dirs) named after processes that no longer exist. */
async function sweepStale(): Promise<void> {
  if (staleSwept) return;
  staleSwept = true;
  const out = await ip(['netns', 'list']).catch(() => '');
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^kd([0-9a-z]+)-[0-9a-z]+$/.exec(name);
    if (!m?.[1]) continue;
    const pid = parseInt(m[1], 36);
    if (pid === process.pid || isAlive(pid)) continue;
    await ip(['netns', 'del', name]).catch(() => undefined);
    await rm(join('/etc/netns', name), { recursive: true, force: true });
  }
}

function resolvConf(hostIp: string, opts: PodNetworkOptions): string {
  const nameserver = !opts.nameserver || opts.nameserver === 'host' ? hostIp : opts.nameserver;
  const lines = [`nameserver ${nameserver}`];
  if (opts.search?.length) lines.push(`search ${opts.search.join(' ')}`);
  if (opts.ndots !== undefined) lines.push(`options ndots:${opts.ndots}`);
  return lines.join('\n') + '\n';
}

/**
 * Creates a network namespace joined to the host by a veth pair. Names carry this process's pid (in
 * base 36, to fit the 15-character interface name limit) so parallel jest workers never collide, and
 * names left behind by a crashed run are skipped ("File exists") and swept.
 */
export async function createPodNetwork(opts: PodNetworkOptions = {}): Promise<PodNetwork> {
  const reason = await netnsAvailable();
  if (reason) throw new Error(`cannot create a pod network namespace: ${reason}`);
  await sweepStale();
  await mkdir(LOCK_DIR, { recursive: true });

  // Name: kd<pid36>-<n36>; veth ends add 'h'/'p'. Retry on "File exists" (pid reused after a crash).
  const pid36 = process.pid.toString(36);
  let netns = '';
  for (let tries = 0; ; tries++) {
    const candidate = `${NAME_PREFIX}${pid36}-${(counter++).toString(36)}`;
    try {
      await ip(['netns', 'add', candidate]);
      netns = candidate;
      break;
    } catch (err) {
      if (!/File exists/i.test((err as Error).message) || tries > 50) throw err;
    }
  }
  const hostIf = `${netns}h`;
  const podIf = `${netns}p`;
  if (hostIf.length > 15) throw new Error(`interface name ${hostIf} is longer than 15 characters`);

  let subnet = -1;
  const cleanup = async (): Promise<void> => {
    await ip(['link', 'del', hostIf]).catch(() => undefined);
    await ip(['netns', 'del', netns]).catch(() => undefined);
    await rm(join('/etc/netns', netns), { recursive: true, force: true });
    if (subnet >= 0) await releaseSubnet(subnet);
  };

  try {
    await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    await ip(['link', 'set', podIf, 'netns', netns]);

    // Pick a free /30: start at a pid-derived spot so parallel workers rarely meet, skip subnets in
    // use on this machine, and reserve through an O_EXCL lock file so two workers never share one.
    const used = await usedSubnets();
    const start = (process.pid * 97 + counter * 13) % SUBNET_COUNT;
    for (let i = 0; i < SUBNET_COUNT && subnet < 0; i++) {
      const candidate = (start + i) % SUBNET_COUNT;
      if (candidate === 0 || used.has(candidate)) continue;
      if (await reserveSubnet(candidate)) subnet = candidate;
    }
    if (subnet < 0) throw new Error('no free /30 left in 10.213.0.0/16');

    const base = subnet * 4;
    const addr = (host: number): string => `10.213.${(base + host) >> 8}.${(base + host) & 255}`;
    const hostIp = addr(1);
    const podIp = addr(2);

    await ip(['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await ip(['link', 'set', hostIf, 'up']);
    await ip(['-n', netns, 'addr', 'add', `${podIp}/30`, 'dev', podIf]);
    await ip(['-n', netns, 'link', 'set', podIf, 'up']);
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);

    await mkdir(join('/etc/netns', netns), { recursive: true });
    await writeFile(join('/etc/netns', netns, 'resolv.conf'), resolvConf(hostIp, opts));

    let destroyed: Promise<void> | undefined;
    return {
      netns,
      hostIp,
      podIp,
      destroy: () => (destroyed ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
