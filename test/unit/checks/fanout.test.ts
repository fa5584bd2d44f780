// `--all`: the comparison of one check's findings on every pod of a workload. The headlines are
// the examples, word for word where it gives them.
import { dnsCheck } from '../../../src/checks/dns.js';
import { compareFanout, type FanoutInput } from '../../../src/checks/fanout/compare.js';
import { fitList } from '../../../src/checks/fanout/facts.js';
import { pickSpread } from '../../../src/checks/fanout/spread.js';
import { httpCheck } from '../../../src/checks/http.js';
import { checks } from '../../../src/checks/index.js';
import { pingCheck } from '../../../src/checks/ping.js';
import { tlsCheck } from '../../../src/checks/tls.js';
import type { Finding } from '../../../src/checks/types.js';
import { recordedFindings } from '../../support/recorded-findings.js';

/** Six pods of deploy/web: two nodes per zone in eu-west-1b, a rollout half done (web-6c9d is the new ReplicaSet). */
const PODS = [
  { pod: 'web-0', node: 'ip-10-0-1-4', zone: 'eu-west-1a', replicaSet: 'web-7f9c' },
  { pod: 'web-1', node: 'ip-10-0-3-7', zone: 'eu-west-1b', replicaSet: 'web-7f9c' },
  { pod: 'web-2', node: 'ip-10-0-1-5', zone: 'eu-west-1a', replicaSet: 'web-7f9c' },
  { pod: 'web-3', node: 'ip-10-0-3-7', zone: 'eu-west-1b', replicaSet: 'web-6c9d' },
  { pod: 'web-4', node: 'ip-10-0-3-8', zone: 'eu-west-1b', replicaSet: 'web-6c9d' },
  { pod: 'web-5', node: 'ip-10-0-3-9', zone: 'eu-west-1b', replicaSet: 'web-6c9d' },
];

/** The six pods, each with the finding `of` gives it (or skipped, when it gives a string). */
function run(of: (pod: string) => Finding | string): FanoutInput[] {
  return PODS.map((place) => {
    const outcome = of(place.pod);
    return typeof outcome === 'string' ? { ...place, skipped: outcome } : { ...place, finding: outcome };
  });
}

const findings = new Map<string, ReturnType<typeof recordedFindings>>();

function recorded(check: string, file: string): Finding {
  if (!findings.has(check)) findings.set(check, recordedFindings(check));
  const found = findings.get(check)!.find((r) => r.file === file);
  if (!found) throw new Error(`no recording ${check}/${file}`);
  return found.finding;
}

const DNS_OK = recorded('dns', 'ok-a.json'); // payments.prod.svc.cluster.local → 10.96.3.7 (4 ms)
const NXDOMAIN = recorded('dns', 'nxdomain.json');
const DNS_TIMEOUT = recorded('dns', 'timeout.json');

function answers(address: string, queryTimeMs = 3): Finding {
  return { ...DNS_OK, facts: { ...DNS_OK.facts, answers: [`payments.prod.svc.cluster.local 30 A ${address}`], queryTimeMs } };
}

function http(totalMs: number, status = '200 OK'): Finding {
  return { check: 'http', verdict: 'ok', headline: `http://web/ answered ${status}`, facts: { url: 'http://web/', status, totalMs }, steps: [] };
}

const among =
  (...pods: string[]) =>
  (pod: string) =>
    pods.includes(pod);

describe('compareFanout: the issue’s examples', () => {
  test('failures on one node: "both on node …"', () => {
    const failing = among('web-1', 'web-3');
    const result = compareFanout(
      dnsCheck,
      run((pod) => (failing(pod) ? NXDOMAIN : DNS_OK)),
    );
    expect(result.headline).toBe('2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7');
    expect(result.group).toEqual({ by: 'node', value: 'ip-10-0-3-7', pods: ['web-1', 'web-3'] });
    expect(result.summary).toEqual({ pods: 6, good: 4, warning: 0, bad: 2, skipped: 0, byVerdict: { nxdomain: 2, ok: 4 } });
    const why = 'NXDOMAIN for payments.staging.svc.cluster.local via 127.53.0.10';
    expect(result.rows).toEqual([
      { ...PODS[1], verdict: 'nxdomain', class: 'bad', figure: 'NXDOMAIN', odd: true, why },
      { ...PODS[3], verdict: 'nxdomain', class: 'bad', figure: 'NXDOMAIN', odd: true, why },
      { ...PODS[0], verdict: 'ok', class: 'good', figure: '10.96.3.7', odd: false },
      { ...PODS[2], verdict: 'ok', class: 'good', figure: '10.96.3.7', odd: false },
      { ...PODS[4], verdict: 'ok', class: 'good', figure: '10.96.3.7', odd: false },
      { ...PODS[5], verdict: 'ok', class: 'good', figure: '10.96.3.7', odd: false },
    ]);
  });

  test('failures in one zone, even when most pods fail: "every pod in zone …"', () => {
    const zoneB = among('web-1', 'web-3', 'web-4', 'web-5');
    const result = compareFanout(
      dnsCheck,
      run((pod) => (zoneB(pod) ? DNS_TIMEOUT : DNS_OK)),
    );
    expect(result.headline).toBe('4 of 6 pods time out: every pod in zone eu-west-1b');
    expect(result.group).toEqual({ by: 'zone', value: 'eu-west-1b', pods: ['web-1', 'web-3', 'web-4', 'web-5'] });
    expect(result.rows.map((r) => [r.pod, r.odd])).toEqual([
      ['web-1', true],
      ['web-3', true],
      ['web-4', true],
      ['web-5', true],
      ['web-0', false],
      ['web-2', false],
    ]);
  });

  test('a bad rollout: "all failing pods belong to ReplicaSet …"', () => {
    const rolledOut = among('web-3', 'web-4', 'web-5');
    const broken = recorded('http', 'http-error.json');
    const result = compareFanout(
      httpCheck,
      run((pod) => (rolledOut(pod) ? broken : recorded('http', 'ok.json'))),
    );
    // Zone eu-west-1b does not explain them: web-1 is there too, and fine.
    expect(result.headline).toBe('3 of 6 pods fail (http-error): all failing pods belong to ReplicaSet web-6c9d');
    expect(result.group).toEqual({ by: 'replicaSet', value: 'web-6c9d', pods: ['web-3', 'web-4', 'web-5'] });
    expect(result.rows.filter((r) => r.odd).map((r) => r.figure)).toEqual(['503 in 6.9 ms', '503 in 6.9 ms', '503 in 6.9 ms']);
  });

  test('DNS: one pod gets another answer', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => answers(pod === 'web-5' ? '10.0.0.9' : '10.0.0.7')),
    );
    expect(result.headline).toBe('1 of 6 pods differs: web-5 answers 10.0.0.9, the others 10.0.0.7');
    expect(result.rows[0]).toEqual({ ...PODS[5], verdict: 'ok', class: 'good', figure: '10.0.0.9', odd: true, why: 'answers 10.0.0.9, not 10.0.0.7' });
    expect(result.rows.slice(1).every((r) => !r.odd)).toBe(true);
    expect(result.group).toBeUndefined();
  });

  test('DNS: the same addresses in another order are the same answer', () => {
    const two = (first: string, second: string): Finding => ({ ...DNS_OK, facts: { ...DNS_OK.facts, answers: [`a 30 A ${first}`, `a 30 A ${second}`] } });
    const result = compareFanout(
      dnsCheck,
      run((pod) => (pod === 'web-2' ? two('10.0.0.10', '10.0.0.9') : two('10.0.0.9', '10.0.0.10'))),
    );
    expect(result.headline).toBe('all 6 pods ok');
  });

  test('TLS: a pod behind another proxy gets another certificate', () => {
    const valid = recorded('tls', 'ok.json');
    const proxied: Finding = { ...valid, facts: { ...valid.facts, subject: 'CN=proxy.corp.example', fingerprintSha256: 'AB:CD:EF:01:23:45:67:89' } };
    const result = compareFanout(
      tlsCheck,
      run((pod) => (pod === 'web-2' ? proxied : valid)),
    );
    expect(result.headline).toBe('1 of 6 pods differs: web-2 serves certificate CN=proxy.corp.example (AB:CD:EF:01…), the others CN=valid.tls.test (91:D1:FB:4C…)');
    expect(result.rows[0]).toMatchObject({
      pod: 'web-2',
      figure: 'expires in 89 d',
      odd: true,
      why: 'serves certificate CN=proxy.corp.example (AB:CD:EF:01…), not CN=valid.tls.test (91:D1:FB:4C…)',
    });
  });

  test('latency: a pod far slower than the median', () => {
    const times: Record<string, number> = { 'web-0': 10, 'web-1': 12, 'web-2': 12, 'web-3': 12, 'web-4': 950, 'web-5': 14 };
    const result = compareFanout(
      httpCheck,
      run((pod) => http(times[pod]!)),
    );
    expect(result.headline).toBe('1 of 6 pods is slow: web-4 (950 ms), the median 12 ms');
    expect(result.rows[0]).toEqual({ ...PODS[4], verdict: 'ok', class: 'good', figure: '200 in 950 ms', odd: true, why: '950 ms, median 12 ms' });
    expect(result.rows.filter((r) => r.odd)).toHaveLength(1);
  });

  test('all ok', () => {
    const result = compareFanout(
      dnsCheck,
      run(() => DNS_OK),
    );
    expect(result.headline).toBe('all 6 pods ok');
    expect(result.rows.map((r) => r.pod)).toEqual(['web-0', 'web-1', 'web-2', 'web-3', 'web-4', 'web-5']);
    expect(result.group).toBeUndefined();
  });

  test('all failing the same way', () => {
    const result = compareFanout(
      dnsCheck,
      run(() => NXDOMAIN),
    );
    expect(result.headline).toBe('all 6 pods fail (nxdomain)');
    expect(result.rows.every((r) => !r.odd)).toBe(true);
  });

  test('a 3 vs 3 tie: the worse verdict is the odd one', () => {
    const failing = among('web-0', 'web-2', 'web-4');
    const result = compareFanout(
      dnsCheck,
      run((pod) => (failing(pod) ? NXDOMAIN : DNS_OK)),
    );
    expect(result.headline).toBe('3 of 6 pods fail (nxdomain)');
    expect(result.group).toBeUndefined();
    expect(result.rows.filter((r) => r.odd).map((r) => r.pod)).toEqual(['web-0', 'web-2', 'web-4']);
  });

  test('a 3 vs 3 tie between two answers: no reference, the pods disagree', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => answers(among('web-0', 'web-1', 'web-2')(pod) ? '10.0.0.7' : '10.0.0.9')),
    );
    expect(result.headline).toBe('6 pods ok but disagree: 10.0.0.7 on 3 pods, 10.0.0.9 on 3 pods');
    expect(result.rows.map((r) => [r.pod, r.odd, r.why])).toEqual([
      ['web-0', false, 'answers 10.0.0.7'],
      ['web-1', false, 'answers 10.0.0.7'],
      ['web-2', false, 'answers 10.0.0.7'],
      ['web-3', false, 'answers 10.0.0.9'],
      ['web-4', false, 'answers 10.0.0.9'],
      ['web-5', false, 'answers 10.0.0.9'],
    ]);
  });

  test('skipped pods are rows, counted, never odd', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => (pod === 'web-3' ? 'not running' : DNS_OK)),
    );
    expect(result.headline).toBe('all 5 checked pods ok; 1 pod skipped: not running');
    expect(result.summary).toEqual({ pods: 6, good: 5, warning: 0, bad: 0, skipped: 1, byVerdict: { ok: 5 } });
    expect(result.rows.at(-1)).toEqual({ ...PODS[3], verdict: 'skipped', figure: 'not running', odd: false });
  });
});

describe('compareFanout: the rest of the rules', () => {
  test('odd ones first, worst first, then the others, then the skipped; by name within each', () => {
    const outcome: Record<string, Finding | string> = { 'web-1': NXDOMAIN, 'web-3': DNS_TIMEOUT, 'web-4': 'over budget', 'web-0': 'not running' };
    const result = compareFanout(
      dnsCheck,
      run((pod) => outcome[pod] ?? DNS_OK),
    );
    expect(result.headline).toBe('2 of 4 checked pods fail (1 timeout, 1 nxdomain), both on node ip-10-0-3-7; 2 pods skipped: 1 not running, 1 over budget');
    expect(result.rows.map((r) => [r.pod, r.verdict, r.figure, r.odd])).toEqual([
      ['web-3', 'timeout', 'timeout', true],
      ['web-1', 'nxdomain', 'NXDOMAIN', true],
      ['web-2', 'ok', '10.96.3.7', false],
      ['web-5', 'ok', '10.96.3.7', false],
      ['web-0', 'skipped', 'not running', false],
      ['web-4', 'skipped', 'over budget', false],
    ]);
    expect(result.summary.byVerdict).toEqual({ timeout: 1, nxdomain: 1, ok: 2 });
    expect(Object.keys(result.summary.byVerdict)).toEqual(['timeout', 'nxdomain', 'ok']);
  });

  test('every pod failing: the most common failure is the reference, the rest are named after the odd ones', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => (among('web-1', 'web-3')(pod) ? NXDOMAIN : DNS_TIMEOUT)),
    );
    expect(result.headline).toBe('2 of 6 pods fail (nxdomain), both on node ip-10-0-3-7; the rest time out');
  });

  test('every pod failing the same way, one with another certificate', () => {
    const expired = recorded('tls', 'expired.json');
    const other: Finding = { ...expired, facts: { ...expired.facts, subject: 'CN=old.tls.test', fingerprintSha256: '12:34:56:78:9A' } };
    const result = compareFanout(
      tlsCheck,
      run((pod) => (pod === 'web-0' ? other : expired)),
    );
    expect(result.headline).toBe(
      'all 6 pods fail (expired); 1 of 6 pods differs: web-0 serves certificate CN=old.tls.test (12:34:56:78…), the others CN=expired.tls.test (2B:C1:E0:11…)',
    );
  });

  test('a warning among good pods; a group is never one pod', () => {
    const lossy = recorded('ping', 'packet-loss.json');
    const result = compareFanout(
      pingCheck,
      run((pod) => (pod === 'web-0' ? lossy : recorded('ping', 'ok.json'))),
    );
    expect(result.headline).toBe('1 of 6 pods warns (packet-loss)');
    expect(result.group).toBeUndefined();
    expect(result.rows[0]).toMatchObject({ pod: 'web-0', class: 'warning', figure: '40% loss, 0.057 ms', odd: true });
  });

  test('failures of different classes, and pods that differ besides, stand out together', () => {
    const outcome: Record<string, Finding> = { 'web-0': NXDOMAIN, 'web-2': { ...recorded('dns', 'no-answer.json') }, 'web-4': answers('10.0.0.9') };
    const result = compareFanout(
      dnsCheck,
      run((pod) => outcome[pod] ?? answers('10.0.0.7')),
    );
    expect(result.headline).toBe('3 of 6 pods stand out: 1 fails (nxdomain), 1 warns (no-answer), 1 differs');
    expect(result.rows.map((r) => r.pod)).toEqual(['web-0', 'web-2', 'web-4', 'web-1', 'web-3', 'web-5']);
  });

  test('odd pods are counted by verdict, whatever their certificates', () => {
    const expired = recorded('tls', 'expired.json');
    const other: Finding = { ...expired, facts: { ...expired.facts, fingerprintSha256: '12:34:56:78:9A' } };
    const result = compareFanout(
      tlsCheck,
      run((pod) => (pod === 'web-0' ? expired : pod === 'web-2' ? other : recorded('tls', 'ok.json'))),
    );
    expect(result.headline).toBe('2 of 6 pods fail (expired), both in zone eu-west-1a');
  });

  test('a tie between failures: the less severe is the reference', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => (among('web-0', 'web-2', 'web-4')(pod) ? DNS_TIMEOUT : NXDOMAIN)),
    );
    expect(result.headline).toBe('3 of 6 pods time out; the rest fail (nxdomain)');
  });

  test('the smallest group that explains them: a node before its zone, a zone before a ReplicaSet', () => {
    const place = (pod: string, node: string, zone: string) => ({ pod, node, zone, replicaSet: 'api-5d8f' });
    const pods = [place('api-0', 'n1', 'z1'), place('api-1', 'n1', 'z1'), place('api-2', 'n2', 'z2'), place('api-3', 'n3', 'z2'), place('api-4', 'n4', 'z3')];
    const failing = (...names: string[]) =>
      compareFanout(
        dnsCheck,
        pods.map((p) => ({ ...p, finding: names.includes(p.pod) ? NXDOMAIN : DNS_OK })),
      );
    expect(failing('api-0', 'api-1').headline).toBe('2 of 5 pods fail (nxdomain), both on node n1');
    expect(failing('api-2', 'api-3').headline).toBe('2 of 5 pods fail (nxdomain), both in zone z2');
  });

  test('a group must hold only odd pods: a shared zone with a healthy pod in it explains nothing', () => {
    const result = compareFanout(
      dnsCheck,
      run((pod) => (among('web-1', 'web-4')(pod) ? NXDOMAIN : DNS_OK)),
    );
    expect(result.headline).toBe('2 of 6 pods fail (nxdomain)');
    expect(result.group).toBeUndefined();
  });

  test('latency: odd above 3 × the median, and never within 200 ms of it', () => {
    const slowest = (median: number, last: number) => {
      const times = [median, median, median, median, median, last];
      return compareFanout(
        httpCheck,
        run((pod) => http(times[Number(pod.slice(4))]!)),
      )
        .rows.filter((r) => r.odd)
        .map((r) => r.why);
    };
    expect(slowest(1000, 2900)).toEqual([]);
    expect(slowest(1000, 3100)).toEqual(['3.1 s, median 1.0 s']);
    expect(slowest(2, 150)).toEqual([]);
    expect(slowest(2, 250)).toEqual(['250 ms, median 2.0 ms']);
  });

  test('latency is compared among the reference pods only: a failing pod is odd for its verdict', () => {
    const result = compareFanout(
      httpCheck,
      run((pod) => (pod === 'web-1' ? recorded('http', 'timeout.json') : http(12))),
    );
    expect(result.headline).toBe('1 of 6 pods times out');
    expect(result.rows[0]).toMatchObject({
      pod: 'web-1',
      figure: 'timeout after 2.0 s',
      why: 'no answer from stuck.http.test:80 within 2 s (connected and sent the request; no response)',
    });
  });

  test('two pods that disagree are named', () => {
    const valid = recorded('tls', 'ok.json');
    const other: Finding = { ...valid, facts: { ...valid.facts, fingerprintSha256: '00:11:22:33:44:55' } };
    const result = compareFanout(tlsCheck, [
      { pod: 'api-0', finding: valid },
      { pod: 'api-1', finding: other },
    ]);
    expect(result.headline).toBe('2 pods ok but disagree: CN=valid.tls.test (91:D1:FB:4C…) on api-0, CN=valid.tls.test (00:11:22:33…) on api-1');
  });

  test('nothing checked', () => {
    expect(
      compareFanout(
        dnsCheck,
        run((pod) => (pod < 'web-4' ? 'not running' : 'over budget')),
      ).headline,
    ).toBe('none of 6 pods could be checked: 4 not running, 2 over budget');
    expect(compareFanout(dnsCheck, [{ pod: 'web-0', skipped: 'refused by Pod Security (restricted)' }]).headline).toBe(
      'the pod could not be checked: refused by Pod Security (restricted)',
    );
    expect(compareFanout(dnsCheck, [])).toEqual({
      headline: 'no pods to check',
      summary: { pods: 0, good: 0, warning: 0, bad: 0, skipped: 0, byVerdict: {} },
      rows: [],
    });
  });

  test('one or two pods', () => {
    expect(compareFanout(dnsCheck, [{ pod: 'web-0', finding: DNS_OK }]).headline).toBe('1 pod ok');
    expect(
      compareFanout(dnsCheck, [
        { pod: 'web-0', finding: NXDOMAIN },
        { pod: 'web-1', finding: NXDOMAIN },
      ]).headline,
    ).toBe('both pods fail (nxdomain)');
  });

  test('a check without fanout traits, and a verdict it does not declare', () => {
    const bare = { verdicts: { ok: { class: 'good', severity: 0 } } } as const;
    const failed: Finding = { check: 'x', verdict: 'failed', headline: 'the job failed', facts: {}, steps: [] };
    const ok: Finding = { ...failed, verdict: 'ok', headline: 'fine' };
    const result = compareFanout(
      bare,
      run((pod) => (pod === 'web-5' ? failed : ok)),
    );
    expect(result.headline).toBe('1 of 6 pods fails (failed)');
    expect(result.rows[0]).toEqual({ ...PODS[5], verdict: 'failed', class: 'bad', figure: 'failed', odd: true, why: 'the job failed' });
  });
});

describe('pickSpread', () => {
  // 42 pods on 6 nodes in 3 zones: 7 per node, named so that name order alone would take one node's.
  const nodes = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'].map((n) => ({ node: `node-${n}`, zone: `zone-${n[0]}` }));
  const pods = nodes.flatMap(({ node, zone }, n) => Array.from({ length: 7 }, (_, i) => ({ name: `web-${String(n * 7 + i).padStart(2, '0')}`, node, zone })));

  test('one per node first, then a second per node', () => {
    const { picked, description } = pickSpread(pods, 10);
    expect(description).toBe('10 of 42 pods, one per node first');
    expect(picked.map((p) => `${p.name}@${p.node}`)).toEqual([
      'web-00@node-a1',
      'web-01@node-a1',
      'web-07@node-a2',
      'web-08@node-a2',
      'web-14@node-b1',
      'web-15@node-b1',
      'web-21@node-b2',
      'web-28@node-c1',
      'web-29@node-c1',
      'web-35@node-c2',
    ]);
  });

  test('fewer than the nodes: every zone before a zone’s second node', () => {
    expect(pickSpread(pods, 4).picked.map((p) => p.node)).toEqual(['node-a1', 'node-a2', 'node-b1', 'node-c1']);
  });

  test('deterministic whatever the input order; everything when under the cap', () => {
    expect(pickSpread([...pods].reverse(), 10)).toEqual(pickSpread(pods, 10));
    const few = pods.slice(0, 3);
    expect(pickSpread([...few].reverse(), 10)).toEqual({ picked: few, description: 'all 3 pods' });
  });
});

describe('figures', () => {
  // What the table shows for each recording: the checks' key figures, exactly.
  test.each([
    ['dns', 'ok-a.json', '10.96.3.7'],
    ['dns', 'ok-multiple-a.json', '10.244.1.5, 10.244.2.7, 10.244.3.9'],
    ['dns', 'ok-tcp-fallback.json', '10.244.1.1, 10.244.1.2 +98 more'],
    ['dns', 'no-answer.json', 'no address'],
    ['dns', 'servfail.json', 'SERVFAIL'],
    ['http', 'ok.json', '200 in 12 ms'],
    ['http', 'ok-redirect.json', '302 in 6.7 ms'],
    ['http', 'timeout.json', 'timeout after 2.0 s'],
    ['http', 'connection-refused.json', 'connection-refused'],
    ['tls', 'ok.json', 'expires in 89 d'],
    ['tls', 'expiring-soon.json', 'expires in 3 d'],
    ['tls', 'expired.json', 'expired 2 d ago'],
    ['tls', 'hostname-mismatch.json', 'hostname-mismatch: CN=www.other.test'],
    ['tls', 'timeout.json', 'timeout'],
    ['ping', 'ok.json', '0% loss, 0.092 ms'],
    ['ping', 'unreachable.json', '100% loss'],
    ['ping', 'permission-denied.json', 'permission-denied'],
    ['conn', 'open.json', 'open'],
    ['conn', 'connection-refused.json', 'refused'],
    ['listen', 'ok.json', '8080 open on 0.0.0.0'],
    ['listen', 'loopback-only.json', '8080 only on 127.0.0.1, [::1]'],
    ['listen', 'not-listening.json', 'nothing on 8080'],
    ['listen', 'ok-list.json', '7 listeners'],
    ['listen', 'failed-no-ss.json', 'sh: 3: ss: not found'],
    ['trace', 'ok.json', '3 hops'],
    ['trace', 'incomplete.json', 'last hop 2 (198.51.100.2)'],
    ['capture', 'ok-udp-tcp.json', '15 packets'],
    ['capture', 'no-packets.json', '0 packets'],
    ['capture', 'failed-no-tcpdump.json', 'failed'],
    ['triage', 'http/ok-https.json', '5 parts ok'],
    ['triage', 'conn/connection-refused.json', 'conn: connection-refused'],
  ])('%s %s: %s', (check, file, figure) => {
    expect(checks.get(check)!.fanout!.figure(recorded(check, file))).toBe(figure);
  });

  test('sameness: DNS addresses in number order, HTTP by status code, TLS by fingerprint, triage by its DNS answers', () => {
    expect(dnsCheck.fanout!.sameness!(recorded('dns', 'ok-tcp-fallback.json'))?.value).toBe('10.244.1.1, 10.244.1.2 +98 more');
    expect(dnsCheck.fanout!.sameness!(NXDOMAIN)).toBeUndefined();
    expect(httpCheck.fanout!.sameness!(http(5, '200 Fine'))).toEqual({ key: '200', verb: 'answers', value: '200 Fine' });
    expect(tlsCheck.fanout!.sameness!(recorded('tls', 'ok.json'))).toEqual({
      key: '91:D1:FB:4C:3F:58:C1:13:19:D7:3E:36:A2:37:F4:2B:8E:D4:EC:73:0B:7B:89:A0:D2:4B:AC:CF:80:F4:D8:5E',
      verb: 'serves certificate',
      value: 'CN=valid.tls.test (91:D1:FB:4C…)',
    });
    expect(checks.get('triage')!.fanout!.sameness!(recorded('triage', 'dns/ok-a.json'))).toEqual({ key: '10.96.3.7', verb: 'answers', value: '10.96.3.7' });
  });

  test('fitList keeps to its width', () => {
    expect(fitList(['10.0.0.1', '10.0.0.2'])).toBe('10.0.0.1, 10.0.0.2');
    expect(fitList(['10.0.0.1', '10.0.0.2', '10.0.0.3'], 25)).toBe('10.0.0.1 +2 more');
    expect(fitList(['a-very-long-name-that-does-not-fit'], 10)).toBe('a-very-lo…');
  });
});
