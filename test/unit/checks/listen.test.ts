import { closeWaitGroups, listenCheck, parseSsAddress, parseSsOutput, type ListenArgs } from '../../../src/checks/listen.js';
import type { StepResult } from '../../../src/checks/types.js';
import { recordedFixtures, type RecordedStep } from '../../support/fixtures.js';

/** A recorded run of both steps: the listeners step at the top level, the connections step beside it. */
interface Fixture extends RecordedStep {
  args: ListenArgs;
  connections: { command: string[]; exitCode: number | null; output: string };
}

const recorded = recordedFixtures<Fixture>('listen');
const fixtureFiles = recorded.files;
const fixture = (file: string): Fixture => recorded.read(file);

function stepsOf(f: Fixture): StepResult[] {
  return [
    { id: 'listeners', argv: f.command, exitCode: f.exitCode, output: f.output },
    { id: 'connections', argv: f.connections.command, exitCode: f.connections.exitCode, output: f.connections.output },
  ];
}

/** A hand-written run: ss's listener lines, and optionally its connection lines. */
function run(args: ListenArgs, listeners: string, opts: { exitCode?: number | null; connections?: string; connectionsExit?: number | null } = {}) {
  const results: StepResult[] = [{ id: 'listeners', argv: ['ss', '-Hltnu'], exitCode: opts.exitCode === undefined ? 0 : opts.exitCode, output: listeners }];
  if (opts.connections !== undefined)
    results.push({ id: 'connections', argv: ['ss', '-Htan'], exitCode: opts.connectionsExit === undefined ? 0 : opts.connectionsExit, output: opts.connections });
  return listenCheck.interpret(args, results);
}

const tcp = (port?: number): ListenArgs => (port === undefined ? { protocol: 'tcp' } : { port, protocol: 'tcp' });
const udp = (port: number): ListenArgs => ({ port, protocol: 'udp' });
const usage = /Usage: `\/kdebug listen <target> \[port\[\/udp\]\]`/;

describe('listenCheck.parseArgs', () => {
  test.each<[string, string[], ListenArgs]>([
    ['nothing: list the listeners', [], { protocol: 'tcp' }],
    ['a port', ['8080'], { port: 8080, protocol: 'tcp' }],
    ['port 1', ['1'], { port: 1, protocol: 'tcp' }],
    ['port 65535', ['65535'], { port: 65535, protocol: 'tcp' }],
    ['a port with a leading zero', ['080'], { port: 80, protocol: 'tcp' }],
    ['a UDP port', ['53/udp'], { port: 53, protocol: 'udp' }],
    ['a UDP port in capitals', ['53/UDP'], { port: 53, protocol: 'udp' }],
    ['an explicit TCP port', ['8080/tcp'], { port: 8080, protocol: 'tcp' }],
    ['a port with spaces around it', [' 8080 '], { port: 8080, protocol: 'tcp' }],
  ])('accepts %s', (_label, positional, args) => {
    expect(listenCheck.parseArgs(positional, {})).toEqual({ ok: true, args });
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['port 0', ['0'], {}, /`0` is not a port: give a number from 1 to 65535 \(`53\/udp` for UDP\)/],
    ['port 65536', ['65536'], {}, /`65536` is not a port/],
    ['a negative port', ['-1'], {}, /`-1` is not a port/],
    ['a service name', ['http'], {}, /`http` is not a port/],
    ['a port range', ['8000-8080'], {}, /`8000-8080` is not a port/],
    ['another protocol', ['8080/sctp'], {}, /`8080\/sctp` is not a port/],
    ['a protocol without a port', ['/udp'], {}, /`` is not a port/],
    ['two ports', ['8080', '9090'], {}, /listen takes at most one port \(got 2 arguments: `8080`, `9090`\)/],
    ['host:port', ['10.0.0.5:8080'], {}, /`10\.0\.0\.5:8080`: listen looks at the pod's own sockets, so give just the port, e\.g\. `8080`/],
    ['[IPv6]:port', ['[::1]:8080'], {}, /give just the port, e\.g\. `8080`/],
    ['an option', ['8080'], { udp: 'yes' }, /The listen check has no option `--udp`/],
  ])('rejects %s', (_label, positional, options, message) => {
    const result = listenCheck.parseArgs(positional, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).toMatch(usage);
    }
  });
});

describe('listenCheck definition', () => {
  test('two ss runs: listeners, then every TCP socket', () => {
    const steps = [
      { id: 'listeners', argv: ['ss', '-Hltnu'] },
      { id: 'connections', argv: ['ss', '-Htan'] },
    ];
    expect(listenCheck.steps(tcp())).toEqual(steps);
    expect(listenCheck.steps(tcp(8080))).toEqual(steps);
    expect(listenCheck.steps(udp(53))).toEqual(steps);
  });

  test('declares no capabilities, no settings, no options', () => {
    expect(listenCheck.capabilities).toEqual([]);
    expect(listenCheck.settings).toBeUndefined();
    expect(listenCheck.options).toEqual([]);
    expect(listenCheck.sensitive).toBeFalsy();
  });

  test('its verdicts, with class and severity on the shared scale', () => {
    expect(listenCheck.verdicts).toEqual({
      ok: { class: 'good', severity: 0 },
      'not-listening': { class: 'bad', severity: 84 },
      'loopback-only': { class: 'bad', severity: 83 },
      failed: { class: 'bad', severity: 55 },
    });
  });

  test('the help names the usage, the tool, every verdict, the capabilities and examples', () => {
    expect(listenCheck.usage).toBe('listen <target> [port[/udp]]');
    expect(listenCheck.help).toContain('Usage: `/kdebug listen <target> [port[/udp]]`');
    expect(listenCheck.help).toContain('`ss -Hltnu`');
    expect(listenCheck.help).toContain('`ss -Htan`');
    for (const verdict of ['ok', 'loopback-only', 'not-listening', 'failed']) expect(listenCheck.help).toContain(`• \`${verdict}\`: `);
    expect(listenCheck.help).toContain('Needs no capabilities.');
    expect(listenCheck.help).toMatch(/Examples:\n• `\/kdebug listen web-7f9c 8080`/);
  });

  test('every recorded fixture was produced by the argv steps() builds today', () => {
    for (const file of fixtureFiles) {
      const f = fixture(file);
      expect(stepsOf(f).map((s) => s.argv)).toEqual(listenCheck.steps(f.args).map((s) => s.argv));
    }
  });

  // The registry holds every check; while other checks move to the verdict tables this is the
  // one test here that loads them all, so it alone waits for them.
  test('no other check uses these verdict words with another class or severity', async () => {
    const { checks } = await import('../../../src/checks/index.js');
    expect(checks.get('listen')).toBe(listenCheck);
    for (const check of checks.values()) {
      if (check === listenCheck) continue;
      for (const [word, spec] of Object.entries(listenCheck.verdicts)) {
        const theirs = (check.verdicts as Record<string, unknown>)[word];
        if (theirs !== undefined) expect({ check: check.name, word, spec: theirs }).toEqual({ check: check.name, word, spec });
      }
    }
  });
});

describe('listenCheck.interpret over recorded ss output', () => {
  const table: Array<[file: string, verdict: string, headline: string, facts: Record<string, unknown>]> = [
    [
      'ok.json',
      'ok',
      "Port 8080 is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP",
      { port: 8080, protocol: 'tcp', listeners: ['tcp 0.0.0.0:8080', 'tcp 127.0.0.1:9090'], connections: ['none'] },
    ],
    ['ok-dual-stack.json', 'ok', "Port 8080 is listened on at * (every address, IPv4 and IPv6): reachable at the pod's IP", { listeners: ['tcp *:8080'] }],
    [
      'ok-ipv6-only.json',
      'ok',
      'Port 8080 is listened on at [::] (every IPv6 address, but IPV6_V6ONLY is set): IPv6 only, so over IPv4 (an IPv4 Service) the connection is refused',
      { listeners: ['tcp [::]:8080'] },
    ],
    ['ok-one-address.json', 'ok', "Port 8080 is listened on at 203.0.113.7 only: reachable if that is the pod's IP", { listeners: ['tcp 203.0.113.7:8080'] }],
    [
      'ok-close-wait.json',
      'ok',
      "Port 8080 is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP — 25 connections in CLOSE-WAIT: the app is not closing sockets",
      {
        listeners: ['tcp 0.0.0.0:8080', 'tcp 0.0.0.0:8081'],
        connections: ['ESTAB 3', 'CLOSE-WAIT 25', 'TIME-WAIT 4'],
        warning: '25 connections in CLOSE-WAIT: the app is not closing sockets',
        closeWait: ['port 8080 (from clients): 25'],
      },
    ],
    [
      'ok-list.json',
      'ok',
      '5 TCP and 2 UDP listeners: tcp 127.0.0.1:6379, tcp [::1]:6379, tcp 0.0.0.0:8080, tcp *:8443, tcp 127.0.0.1:9090 and 2 more',
      {
        listeners: ['tcp 127.0.0.1:6379', 'tcp [::1]:6379', 'tcp 0.0.0.0:8080', 'tcp *:8443', 'tcp 127.0.0.1:9090', 'udp 127.0.0.53%lo:53', 'udp 0.0.0.0:5353'],
        connections: ['none'],
      },
    ],
    ['ok-nothing-listens.json', 'ok', 'Nothing listens in this pod: no TCP or UDP listener', { listeners: [] }],
    [
      'loopback-only.json',
      'loopback-only',
      'Port 8080 is listened on only at 127.0.0.1 and [::1]: reachable only from inside the pod; bind 0.0.0.0',
      { port: 8080, listeners: ['tcp 127.0.0.1:8080', 'tcp [::1]:8080', 'tcp 127.0.0.1:9090'] },
    ],
    [
      'loopback-only-device.json',
      'loopback-only',
      'Port 8080 is listened on only at 0.0.0.0%lo (bound to the lo interface): reachable only from inside the pod; do not bind the socket to the lo interface',
      { listeners: ['tcp 0.0.0.0%lo:8080'] },
    ],
    [
      'not-listening.json',
      'not-listening',
      'Nothing listens on port 8080; listening: tcp 0.0.0.0:8081, tcp 127.0.0.1:9090',
      { port: 8080, listeners: ['tcp 0.0.0.0:8081', 'tcp 127.0.0.1:9090'] },
    ],
    [
      'not-listening-udp-only.json',
      'not-listening',
      'Nothing listens on TCP port 53; only UDP does: udp 0.0.0.0:53 (ask for `53/udp` to judge UDP)',
      { port: 53, protocol: 'tcp', listeners: ['udp 0.0.0.0:53'] },
    ],
    [
      'not-listening-nothing.json',
      'not-listening',
      "Nothing listens on port 8080; nothing listens on any port in this pod (is the app running, and in this container's network namespace?)",
      { listeners: [] },
    ],
    [
      'failed-no-ss.json',
      'failed',
      "Could not list the pod's listeners: the debug image has no ss (it needs iproute2's ss, which nicolaka/netshoot has)",
      { error: 'sh: 3: ss: not found' },
    ],
    [
      'failed-busybox-no-ss.json',
      'failed',
      "Could not list the pod's listeners: the debug image has no ss (it needs iproute2's ss, which nicolaka/netshoot has)",
      { error: 'sh: ss: not found' },
    ],
  ];

  test('the table covers every fixture file and every verdict', () => {
    expect(table.map(([file]) => file).sort()).toEqual([...fixtureFiles].sort());
    expect(new Set(table.map(([, verdict]) => verdict))).toEqual(new Set(Object.keys(listenCheck.verdicts)));
  });

  test.each(table)('%s → %s', (file, verdict, headline, facts) => {
    const f = fixture(file);
    const finding = listenCheck.interpret(f.args, stepsOf(f));
    expect(finding.check).toBe('listen');
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toBe(headline);
    expect(finding.facts).toMatchObject(facts);
    expect(finding.steps).toEqual(stepsOf(f));
  });

  test('no warning without a pile of CLOSE-WAIT', () => {
    const f = fixture('ok.json');
    expect(listenCheck.interpret(f.args, stepsOf(f)).facts).not.toHaveProperty('warning');
  });
});

describe('parseSsAddress', () => {
  test.each<[string, Record<string, unknown> | undefined]>([
    ['0.0.0.0:8080', { address: '0.0.0.0', port: 8080, scope: 'any' }],
    ['*:8080', { address: '*', port: 8080, scope: 'any' }],
    ['[::]:8443', { address: '::', port: 8443, scope: 'any-ipv6-only' }],
    // iproute2 before the brackets: `:::22` for ::, `*:22` for 0.0.0.0.
    [':::22', { address: '::', port: 22, scope: 'any' }],
    ['::1:631', { address: '::1', port: 631, scope: 'loopback' }],
    ['127.0.0.1:9090', { address: '127.0.0.1', port: 9090, scope: 'loopback' }],
    ['127.1.2.3:80', { address: '127.1.2.3', port: 80, scope: 'loopback' }],
    ['[::1]:6379', { address: '::1', port: 6379, scope: 'loopback' }],
    ['[::ffff:127.0.0.1]:9092', { address: '::ffff:127.0.0.1', port: 9092, scope: 'loopback' }],
    ['[::ffff:10.0.0.5]:80', { address: '::ffff:10.0.0.5', port: 80, scope: 'specific' }],
    ['127.0.0.53%lo:53', { address: '127.0.0.53', port: 53, device: 'lo', scope: 'loopback' }],
    ['0.0.0.0%lo:80', { address: '0.0.0.0', port: 80, device: 'lo', scope: 'loopback' }],
    ['*%eth0:80', { address: '*', port: 80, device: 'eth0', scope: 'any' }],
    ['[fe80::1]%eth0:546', { address: 'fe80::1', port: 546, device: 'eth0', scope: 'specific' }],
    ['10.244.1.7:8080', { address: '10.244.1.7', port: 8080, scope: 'specific' }],
    ['0.0.0.0:*', { address: '0.0.0.0', scope: 'any' }],
    ['10.0.0.5', undefined],
    ['localhost:80', undefined],
    ['[nope]:80', undefined],
    ['', undefined],
  ])('%s', (text, expected) => {
    const parsed = parseSsAddress(text);
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toEqual({ text, ...expected });
  });
});

describe('parseSsOutput', () => {
  test('the process column of ss -p names the processes', () => {
    const out = parseSsOutput('tcp LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=1,fd=6),("nginx",pid=7,fd=6))\n');
    expect(out.sockets).toEqual([
      { netid: 'tcp', state: 'LISTEN', local: { text: '0.0.0.0:80', address: '0.0.0.0', port: 80, scope: 'any' }, peer: '0.0.0.0:*', processes: ['nginx'] },
    ]);
  });

  test('a header line (an ss without -H) is skipped, and lines that are not sockets are kept apart', () => {
    const out = parseSsOutput(
      'Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\ntcp   LISTEN 0      4096         0.0.0.0:22        0.0.0.0:*\nCannot open netlink socket\n',
    );
    expect(out.sockets.map((s) => s.local.text)).toEqual(['0.0.0.0:22']);
    expect(out.other).toEqual(['Cannot open netlink socket']);
  });

  test('without a Netid column (one protocol asked for) the state leads', () => {
    const out = parseSsOutput('LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nCLOSE-WAIT 1 0 10.0.0.2:22 10.0.0.1:5000\n');
    expect(out.sockets.map((s) => [s.netid, s.state])).toEqual([
      [undefined, 'LISTEN'],
      [undefined, 'CLOSE-WAIT'],
    ]);
  });
});

describe('edge cases by hand', () => {
  test('with the process column, the listener names its process', () => {
    const finding = run(tcp(80), 'tcp LISTEN 0 511 127.0.0.1:80 0.0.0.0:* users:(("nginx",pid=1,fd=6))\n');
    expect(finding.verdict).toBe('loopback-only');
    expect(finding.facts.listeners).toEqual(['tcp 127.0.0.1:80 (nginx)']);
  });

  test('SO_REUSEPORT sockets on one address are one listener', () => {
    const finding = run(tcp(), 'tcp LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\ntcp LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\n');
    expect(finding.facts.listeners).toEqual(['tcp 0.0.0.0:80']);
    expect(finding.headline).toBe('1 TCP listener: tcp 0.0.0.0:80');
  });

  test('loopback and a pod address on the same port: ok, at the pod address', () => {
    const finding = run(tcp(8080), 'tcp LISTEN 0 511 127.0.0.1:8080 0.0.0.0:*\ntcp LISTEN 0 511 10.244.1.7:8080 0.0.0.0:*\n');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe("Port 8080 is listened on at 10.244.1.7 only: reachable if that is the pod's IP");
  });

  test('[::] beside an IPv4 address is not called IPv6 only', () => {
    const finding = run(tcp(8080), 'tcp LISTEN 0 511 [::]:8080 [::]:*\ntcp LISTEN 0 511 10.244.1.7:8080 0.0.0.0:*\n');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe("Port 8080 is listened on at 10.244.1.7 only: reachable if that is the pod's IP");
  });

  test('an IPv6 pod address alone is reachable over IPv6 only', () => {
    const finding = run(tcp(8080), 'tcp LISTEN 0 511 [fd00::7]:8080 [::]:*\n');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe(
      "Port 8080 is listened on at [fd00::7] only: reachable if that is the pod's IP; IPv6 only, so over IPv4 (an IPv4 Service) the connection is refused",
    );
  });

  test('0.0.0.0 bound to eth0 is reachable', () => {
    const finding = run(tcp(8080), 'tcp LISTEN 0 511 0.0.0.0%eth0:8080 0.0.0.0:*\n');
    expect(finding.verdict).toBe('ok');
    expect(finding.headline).toBe("Port 8080 is listened on at 0.0.0.0%eth0 (every IPv4 address, bound to interface eth0): reachable at the pod's IP");
  });

  test.each<[string, ListenArgs, string, string, string]>([
    [
      'a UDP port listened on everywhere',
      udp(53),
      'udp UNCONN 0 0 0.0.0.0:53 0.0.0.0:*\n',
      'ok',
      "Port 53/udp is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP",
    ],
    [
      'a UDP port on a loopback address bound to lo',
      udp(53),
      'udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n',
      'loopback-only',
      'Port 53/udp is listened on only at 127.0.0.53%lo (bound to the lo interface): reachable only from inside the pod; bind 0.0.0.0',
    ],
    [
      'UDP asked, only TCP listens',
      udp(53),
      'tcp LISTEN 0 4096 0.0.0.0:53 0.0.0.0:*\n',
      'not-listening',
      'Nothing listens on UDP port 53; only TCP does: tcp 0.0.0.0:53 (ask for `53` to judge TCP)',
    ],
    [
      'TCP on loopback, UDP everywhere: TCP is judged',
      tcp(53),
      'udp UNCONN 0 0 0.0.0.0:53 0.0.0.0:*\ntcp LISTEN 0 4096 127.0.0.1:53 0.0.0.0:*\n',
      'loopback-only',
      'Port 53 is listened on only at 127.0.0.1: reachable only from inside the pod; bind 0.0.0.0',
    ],
    [
      'an IPv4-mapped loopback address',
      tcp(9092),
      'tcp LISTEN 0 511 [::ffff:127.0.0.1]:9092 *:*\n',
      'loopback-only',
      'Port 9092 is listened on only at [::ffff:127.0.0.1]: reachable only from inside the pod; bind 0.0.0.0',
    ],
    ["old ss's :::22", tcp(22), 'tcp LISTEN 0 128 :::22 :::*\n', 'ok', "Port 22 is listened on at :: (every address, IPv4 and IPv6): reachable at the pod's IP"],
  ])('%s', (_label, args, output, verdict, headline) => {
    const finding = run(args, output);
    expect(finding.verdict).toBe(verdict);
    expect(finding.headline).toBe(headline);
  });

  test('many listeners: the headline names five and counts the rest', () => {
    const lines = [8001, 8002, 8003, 8004, 8005, 8006, 8007].map((p) => `tcp LISTEN 0 511 0.0.0.0:${p} 0.0.0.0:*`).join('\n');
    const finding = run(tcp(9000), lines);
    expect(finding.verdict).toBe('not-listening');
    expect(finding.headline).toBe('Nothing listens on port 9000; listening: tcp 0.0.0.0:8001, tcp 0.0.0.0:8002, tcp 0.0.0.0:8003, tcp 0.0.0.0:8004, tcp 0.0.0.0:8005 and 2 more');
    expect(finding.facts.listeners).toHaveLength(7);
  });

  describe('CLOSE-WAIT', () => {
    const listening = 'tcp LISTEN 0 511 0.0.0.0:8080 0.0.0.0:*\n';
    const closeWait = (n: number, local: (i: number) => string, peer: (i: number) => string) =>
      Array.from({ length: n }, (_, i) => `CLOSE-WAIT 1 0 ${local(i)} ${peer(i)}`).join('\n');

    test('19 is no warning', () => {
      const finding = run(tcp(8080), listening, {
        connections: closeWait(
          19,
          () => '10.244.1.7:8080',
          (i) => `10.244.2.9:${40000 + i}`,
        ),
      });
      expect(finding.facts.connections).toEqual(['CLOSE-WAIT 19']);
      expect(finding.facts).not.toHaveProperty('warning');
      expect(finding.headline).toBe("Port 8080 is listened on at 0.0.0.0 (every IPv4 address): reachable at the pod's IP");
    });

    test('20 is a warning, in the headline and the facts, whatever the verdict', () => {
      const finding = run(tcp(9999), listening, {
        connections: closeWait(
          20,
          () => '10.244.1.7:8080',
          (i) => `10.244.2.9:${40000 + i}`,
        ),
      });
      expect(finding.verdict).toBe('not-listening');
      expect(finding.headline).toBe('Nothing listens on port 9999; listening: tcp 0.0.0.0:8080 — 20 connections in CLOSE-WAIT: the app is not closing sockets');
      expect(finding.facts).toMatchObject({ warning: '20 connections in CLOSE-WAIT: the app is not closing sockets', closeWait: ['port 8080 (from clients): 20'] });
    });

    test("the app's own connections in CLOSE-WAIT are grouped by peer", () => {
      const connections = [
        closeWait(
          18,
          (i) => `10.244.1.7:${50000 + i}`,
          () => '10.96.4.4:5432',
        ),
        closeWait(
          3,
          (i) => `10.244.1.7:${51000 + i}`,
          () => '10.96.5.5:6379',
        ),
        'ESTAB 0 0 10.244.1.7:8080 10.244.2.9:40000',
        'TIME-WAIT 0 0 10.244.1.7:8080 10.244.2.9:40001',
        'LISTEN 0 511 0.0.0.0:8080 0.0.0.0:*',
      ].join('\n');
      const finding = run(tcp(8080), listening, { connections });
      expect(finding.facts.connections).toEqual(['ESTAB 1', 'CLOSE-WAIT 21', 'TIME-WAIT 1']);
      expect(finding.facts.closeWait).toEqual(['to 10.96.4.4:5432: 18', 'to 10.96.5.5:6379: 3']);
    });

    test('closeWaitGroups shows the five largest groups', () => {
      const sockets = parseSsOutput(
        Array.from({ length: 7 }, (_, g) =>
          closeWait(
            g + 1,
            (i) => `10.0.0.1:${50000 + g * 10 + i}`,
            () => `10.0.0.${g + 2}:80`,
          ),
        ).join('\n'),
      ).sockets;
      expect(closeWaitGroups(sockets, new Set())).toEqual(['to 10.0.0.8:80: 7', 'to 10.0.0.7:80: 6', 'to 10.0.0.6:80: 5', 'to 10.0.0.5:80: 4', 'to 10.0.0.4:80: 3']);
    });

    test('connection states cut off by the deadline are counted as "at least"', () => {
      const finding = run(tcp(8080), listening, { connections: 'ESTAB 0 0 10.244.1.7:8080 10.244.2.9:40000\n', connectionsExit: null });
      expect(finding.facts.connections).toEqual(['ESTAB at least 1']);
    });

    test('a failed connections step does not change the verdict', () => {
      const finding = run(tcp(8080), listening, { connections: 'Cannot open netlink socket: Permission denied\n', connectionsExit: 1 });
      expect(finding.verdict).toBe('ok');
      expect(finding.facts.connections).toBe('unreadable: Cannot open netlink socket: Permission denied');
    });
  });

  describe('ss failing', () => {
    test.each<[string, string, number | null, string]>([
      [
        'an ss too old for -H',
        "ss: invalid option -- 'H'\nUsage: ss [ OPTIONS ]\n",
        255,
        "Could not list the pod's listeners: this ss is too old for -H (ss: invalid option -- 'H'); the debug image needs a newer iproute2",
      ],
      [
        'an ss that fails',
        'Cannot open netlink socket: Protocol not supported\n',
        1,
        "Could not list the pod's listeners: ss exited with code 1: Cannot open netlink socket: Protocol not supported",
      ],
      ['an ss that fails silently', '', 2, "Could not list the pod's listeners: ss exited with code 2 and printed nothing"],
      ['an ss that never finished', '', null, "Could not list the pod's listeners: ss did not finish in time"],
      [
        'something that is not ss',
        'Active Internet connections (only servers)\nProto Recv-Q Send-Q Local Address\n',
        0,
        "Could not list the pod's listeners: ss printed something that is not a socket list: Active Internet connections (only servers)",
      ],
    ])('%s', (_label, output, exitCode, headline) => {
      const finding = run(tcp(8080), output, { exitCode });
      expect(finding.verdict).toBe('failed');
      expect(finding.headline).toBe(headline);
    });

    test('an ss cut off after some listeners still gives a verdict, with a note', () => {
      const finding = run(tcp(8080), 'tcp LISTEN 0 511 0.0.0.0:8080 0.0.0.0:*\ntcp LI', { exitCode: null });
      expect(finding.verdict).toBe('ok');
      expect(finding.facts.note).toBe('ss was cut off: the list may be incomplete');
    });

    test('no results at all', () => {
      expect(listenCheck.interpret(tcp(8080), []).verdict).toBe('failed');
      expect(listenCheck.interpret(tcp(8080), []).headline).toBe("Could not list the pod's listeners: ss did not run");
    });

    test.each<[string, unknown, unknown]>([
      ['results that are not an array', tcp(8080), 'nonsense'],
      ['results with holes', tcp(8080), [null, 42, { id: 'listeners' }]],
      ['arguments that are not arguments', null, [{ id: 'listeners', argv: [], exitCode: 0, output: 'tcp LISTEN 0 1 0.0.0.0:80 0.0.0.0:*' }]],
    ])('never throws: %s', (_label, args, results) => {
      const finding = listenCheck.interpret(args as ListenArgs, results as StepResult[]);
      expect(finding.check).toBe('listen');
      expect(Object.keys(listenCheck.verdicts)).toContain(finding.verdict);
    });
  });
});
