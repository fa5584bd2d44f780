// A small lab network for recording and testing ping, nc and traceroute for real.
//
// The lab: a "pod" network namespace from src/playground/netns.ts (its veth to the host carries only
// DNS, to a test DnsServer on the host side), and three more namespaces of our own chained behind it:
//
//   pod 192.0.2.1 ── 192.0.2.2 router1 198.51.100.1 ── 198.51.100.2 router2 203.0.113.1 ── 203.0.113.10 target
//
// Every address is from the documentation ranges (RFC 5737) and exists only inside these namespaces;
// each namespace routes only to the others, and none has a default route, so no packet can leave
// this machine. router2 knows three kinds of trouble: 203.0.113.99 is on its LAN but no host has it
// (ARP fails, router2 reports Destination Host Unreachable after ~3 s), 203.0.113.200/29 is a
// blackhole (silently dropped), 203.0.113.208/29 is an `unreachable` route (ICMP host unreachable
// at once). The target listens on TCP 5432. On request, router1 drops every even-numbered ICMP echo
// request (setEchoLoss).
//
// Every step runs the way the worker runs it (src/runner/script.ts: `sh -c` script, stderr joined to
// stdout) under the security context the debug container gets (src/kube/ephemeral.ts), applied with
// setpriv: a check without capabilities runs as 65534:65534 with no capabilities and no_new_privs;
// one with capabilities runs as root with only those. The pod's namespace allows unprivileged ICMP
// (net.ipv4.ping_group_range = 0 2147483647, as containerd 2 and Docker set it) unless a case says
// otherwise.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Step, StepResult } from '../../src/checks/types.js';
import { newMarker, scriptCommand, splitOutput } from '../../src/runner/script.js';
import { debugSecurityContext } from '../../src/kube/ephemeral.js';
import { DnsServer } from '../../src/playground/dns-server.js';
import { createPodNetwork, netnsAvailable, type PodNetwork } from '../../src/playground/netns.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// The lab

export const LAB = {
  router1: '192.0.2.2',
  router2: '198.51.100.2',
  target: '203.0.113.10',
  /** The target's name in the lab DNS, as a pod in namespace prod would write it. */
  targetName: 'db.prod',
  /** On router2's LAN, but no host has it. */
  gone: '203.0.113.99',
  /** router2 drops it silently. */
  blackholed: '203.0.113.201',
  /** router2 answers ICMP host unreachable at once. */
  rejected: '203.0.113.209',
  openPort: 5432,
  closedPort: 5433,
  /** Does not resolve: the lab DNS answers NXDOMAIN for the whole .invalid zone. */
  unresolvable: 'db.invalid',
} as const;

const POD_SEARCH = ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  /** Capabilities the check declares; they decide the security context. Default: none. */
  capabilities?: readonly string[];
  /** Directories put first on PATH: which ping/nc/traceroute the "image" has. Default: [lab.bin.plain]. */
  path?: string[];
  /** Hard limit for the whole run; the process group is killed after it. Default 90 s. */
  timeoutMs?: number;
}

export interface Lab {
  pod: PodNetwork;
  dns: DnsServer;
  bin: {
    /** A copy of iputils ping without its file capability, as in an image whose ping works unprivileged. */
    plain: string;
    /** ping, nc and traceroute as symlinks to busybox. */
    busybox: string;
  };
  /** Run one check step inside the pod, as the worker would. */
  run(step: Step, opts?: RunOptions): Promise<StepResult>;
  /** Allow (the default) or forbid unprivileged ICMP sockets in the pod's namespace. */
  setUnprivilegedIcmp(allowed: boolean): Promise<void>;
  /** router1 drops every even-numbered ICMP echo request it forwards (true), or none (false). */
  setEchoLoss(lossy: boolean): Promise<void>;
  destroy(): Promise<void>;
}

async function run(argv: string[], timeoutMs = 15_000): Promise<string> {
  const [cmd = '', ...rest] = argv;
  try {
    const { stdout } = await execFileAsync(cmd, rest, { timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

/** setpriv arguments for the security context the debug container gets with `capabilities`. */
export function securityContextArgs(capabilities: readonly string[]): string[] {
  const ctx = debugSecurityContext(capabilities);
  const args: string[] = [];
  if (ctx.runAsUser !== undefined) args.push(`--reuid=${ctx.runAsUser}`, `--regid=${ctx.runAsGroup ?? ctx.runAsUser}`, '--clear-groups');
  // Root keeps exactly the bounding set across exec, so the bounding set is the capability set.
  const add = (ctx.capabilities?.add ?? []).map((c) => `+${c.toLowerCase()}`);
  args.push(`--bounding-set=${['-all', ...add].join(',')}`, '--inh-caps=-all');
  if (ctx.allowPrivilegeEscalation === false) args.push('--no-new-privs');
  return args;
}

/** Creates the lab. Throws (loudly) when network namespaces are not available. */
export async function startLab(): Promise<Lab> {
  const reason = await netnsAvailable();
  if (reason) throw new Error(`the ping, conn and trace lab needs network namespaces, and ${reason}`);

  const cleanups: Array<() => Promise<void> | void> = [];
  const destroy = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  };

  try {
    const pod = await createPodNetwork({ search: POD_SEARCH, ndots: 5 });
    cleanups.push(() => pod.destroy());
    // Names ending in the pod's own name: unique per process, and swept by netns.ts if we crash.
    const [router1, router2, target] = ['r1', 'r2', 'tg'].map((suffix) => `${pod.netns}${suffix}`) as [string, string, string];
    for (const ns of [router1, router2, target]) {
      await run(['ip', 'netns', 'add', ns]);
      cleanups.push(() => run(['ip', 'netns', 'del', ns]).then(() => undefined));
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const ip = (ns: string, ...args: string[]) => run(['ip', '-n', ns, ...args]);
    const tc = (ns: string, ...args: string[]) => run(['ip', 'netns', 'exec', ns, 'tc', ...args]);
    const link = async (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string) => {
      await ip(a, 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b);
      await ip(a, 'addr', 'add', aAddr, 'dev', aIf);
      await ip(b, 'addr', 'add', bAddr, 'dev', bIf);
      await ip(a, 'link', 'set', aIf, 'up');
      await ip(b, 'link', 'set', bIf, 'up');
    };
    await link(pod.netns, 'lab0', '192.0.2.1/30', router1, 'west', '192.0.2.2/30');
    await link(router1, 'east', '198.51.100.1/30', router2, 'west', '198.51.100.2/30');
    await link(router2, 'east', '203.0.113.1/24', target, 'lan0', '203.0.113.10/24');
    for (const router of [router1, router2]) await run(['ip', 'netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Routes only between the lab's own networks: no namespace gets a default route.
    await ip(pod.netns, 'route', 'add', '198.51.100.0/30', 'via', LAB.router1);
    await ip(pod.netns, 'route', 'add', '203.0.113.0/24', 'via', LAB.router1);
    await ip(router1, 'route', 'add', '203.0.113.0/24', 'via', LAB.router2);
    await ip(router2, 'route', 'add', '192.0.2.0/30', 'via', '198.51.100.1');
    await ip(router2, 'route', 'add', 'blackhole', '203.0.113.200/29');
    await ip(router2, 'route', 'add', 'unreachable', '203.0.113.208/29');
    await ip(target, 'route', 'add', '192.0.2.0/30', 'via', '203.0.113.1');
    await ip(target, 'route', 'add', '198.51.100.0/30', 'via', '203.0.113.1');

    const dns = new DnsServer({ host: pod.hostIp, port: 53, zones: ['cluster.local', 'invalid'] });
    dns.addRecord(`${LAB.targetName}.svc.cluster.local`, 'A', LAB.target);
    await dns.start();
    cleanups.push(() => dns.stop());

    // The target's TCP service: accepts and closes, like any server seen by `nc -z`.
    const listener = spawn(
      'ip',
      ['netns', 'exec', target, process.execPath, '-e', `require('net').createServer((s) => s.destroy()).listen(${LAB.openPort}, '${LAB.target}', () => console.log('listening'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => {
      listener.kill();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the lab listener did not start within 10 s')), 10_000);
      listener.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      listener.on('exit', (code) => reject(new Error(`the lab listener exited with code ${code}`)));
    });

    // The tools as the "image" has them. Readable by the unprivileged user the checks run as.
    const plain = mkdtempSync(join(tmpdir(), 'kdebug-lab-plain-'));
    const busybox = mkdtempSync(join(tmpdir(), 'kdebug-lab-busybox-'));
    cleanups.push(() => {
      rmSync(plain, { recursive: true, force: true });
      rmSync(busybox, { recursive: true, force: true });
    });
    copyFileSync('/usr/bin/ping', join(plain, 'ping')); // copying drops the security.capability xattr
    chmodSync(join(plain, 'ping'), 0o755);
    for (const tool of ['ping', 'nc', 'traceroute']) symlinkSync('/usr/bin/busybox', join(busybox, tool));
    chmodSync(plain, 0o755);
    chmodSync(busybox, 0o755);

    const setUnprivilegedIcmp = async (allowed: boolean) => {
      await run(['ip', 'netns', 'exec', pod.netns, 'sysctl', '-qw', `net.ipv4.ping_group_range=${allowed ? '0 2147483647' : '1 0'}`]);
    };
    await setUnprivilegedIcmp(true);

    const lab: Lab = {
      pod,
      dns,
      bin: { plain, busybox },
      run: (step, opts = {}) => runStep(pod.netns, step, { path: [plain], ...opts }),
      setUnprivilegedIcmp,
      async setEchoLoss(lossy) {
        // Forwarded packets dropped by a queue vanish silently, as on a congested link. u32 matches
        // ICMP echo requests (type 8 at byte 20) whose sequence number (bytes 26-27) is even, and
        // sends them to a class whose queue holds nothing. Deterministic: requests 2, 4, … are lost.
        if (!lossy) {
          await tc(router1, 'qdisc', 'del', 'dev', 'east', 'root');
          return;
        }
        await tc(router1, 'qdisc', 'add', 'dev', 'east', 'root', 'handle', '1:', 'htb', 'default', '10');
        await tc(router1, 'class', 'add', 'dev', 'east', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
        await tc(router1, 'class', 'add', 'dev', 'east', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit');
        await tc(router1, 'qdisc', 'add', 'dev', 'east', 'parent', '1:20', 'handle', '20:', 'pfifo', 'limit', '0');
        await tc(
          router1,
          'filter',
          'add',
          'dev',
          'east',
          'parent',
          '1:',
          'protocol',
          'ip',
          'prio',
          '1',
          'u32',
          'match',
          'ip',
          'protocol',
          '1',
          '0xff',
          'match',
          'u8',
          '8',
          '0xff',
          'at',
          '20',
          'match',
          'u8',
          '0',
          '1',
          'at',
          '27',
          'flowid',
          '1:20',
        );
      },
      destroy,
    };
    return lab;
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** The worker's script for one step, run in `netns` under the debug container's security context. */
function runStep(netns: string, step: Step, opts: RunOptions): Promise<StepResult> {
  const marker = newMarker();
  const argv = ['ip', 'netns', 'exec', netns, 'setpriv', ...securityContextArgs(opts.capabilities ?? []), ...scriptCommand([step], marker)];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout kills the tool too
      env: { PATH: [...(opts.path ?? []), IMAGE_PATH].join(':'), LANG: 'C' },
    });
    let log = '';
    const take = (d: Buffer) => {
      log += d.toString();
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, opts.timeoutMs ?? 90_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (/^setpriv: /m.test(log) && !log.includes(marker)) reject(new Error(`setpriv failed: ${log}`));
      else resolve(splitOutput(log, [step], marker)[0] ?? { ...step, exitCode: null, output: log });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Fixture files

export interface Fixture {
  command: string[];
  exitCode: number | null;
  output: string;
  note: string;
}

/** "ping from iputils 20221126", "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)": which tool `name` is on `path`. */
export async function toolVersion(name: 'ping' | 'nc' | 'traceroute', path: string[]): Promise<string> {
  const env = { PATH: [...path, IMAGE_PATH].join(':'), LANG: 'C' };
  const { stdout: resolved } = await execFileAsync('sh', ['-c', `readlink -f "$(command -v ${name})"`], { env });
  if (/busybox/.test(resolved)) {
    const { stdout, stderr } = await execFileAsync('busybox', [], { env }).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }));
    return /^(BusyBox v\S+(?: \([^)]*\))?)/m.exec(stdout + stderr)?.[1] ?? 'busybox';
  }
  const flag = { ping: '-V', nc: '-h', traceroute: '--version' }[name];
  const { stdout, stderr } = await execFileAsync(name, [flag], { env }).catch((err: { stdout?: string; stderr?: string }) => ({
    stdout: err.stdout ?? '',
    stderr: err.stderr ?? '',
  }));
  return (stdout + stderr).split('\n')[0]?.trim() || name;
}

export function writeFixture(dir: string, file: string, result: StepResult, tool: string, note: string): void {
  const fixture: Fixture = { command: result.argv, exitCode: result.exitCode, output: result.output, note: `Recorded by record.ts (${tool}): ${note}` };
  writeFileSync(join(dir, file), `${JSON.stringify(fixture, null, 2)}\n`);
}

/** True when this jest run is for `file` itself, not for another module importing it. */
export function isRecorderRun(file: string): boolean {
  return expect.getState().testPath === fileURLToPath(file);
}
