import type { Finding } from '../../../src/checks/types.js';
import type { DiagnosticJob } from '../../../src/queue/job.js';
import { nextStepButtons, nextSteps } from '../../../src/slack/next-steps.js';

const job = (commandText: string, over: Partial<DiagnosticJob> = {}) =>
  ({ check: 'dns', target: { kind: 'pod', name: 'web-0' }, namespace: 'prod', positional: [], options: {}, commandText, ...over }) as DiagnosticJob;
const finding = (check: string, verdict: string, facts: Finding['facts'] = {}) => ({ check, verdict, facts });

test('a good answer offers Re-run only: the command as typed', () => {
  expect(nextSteps(job('/kdebug dns web-0 -n prod payments'), finding('dns', 'ok'), 'web-0')).toEqual([{ label: 'Re-run', text: 'dns web-0 -n prod payments' }]);
});

test('an http timeout or a refused connection: listen on that pod, and capture on the port', () => {
  const http = job('/kdebug http deploy/web -n prod https://api.prod:8443/healthz', {
    check: 'http',
    target: { kind: 'deployment', name: 'web' },
    positional: ['https://api.prod:8443/healthz'],
  });
  expect(nextSteps(http, finding('http', 'timeout'), 'web-7f9c').map((s) => s.text)).toEqual([
    'http deploy/web -n prod https://api.prod:8443/healthz',
    'listen pod/web-7f9c -n prod',
    'capture pod/web-7f9c -n prod port 8443 --duration 20s',
    'http deploy/web -n prod https://api.prod:8443/healthz --all',
  ]);
  const conn = job('/kdebug conn web-0 -n prod -c app db 5432', { check: 'conn', container: 'app', positional: ['db', '5432'] });
  expect(nextSteps(conn, finding('conn', 'connection-refused'), 'web-0').map((s) => s.text)).toEqual([
    'conn web-0 -n prod -c app db 5432',
    'listen pod/web-0 -n prod -c app',
    'capture pod/web-0 -n prod -c app port 5432 --duration 20s',
  ]);
});

test('dns nxdomain: ask the resolver of the pod directly, and every pod of the workload', () => {
  const dns = job('/kdebug dns deploy/web -n prod payments', { target: { kind: 'deployment', name: 'web' }, positional: ['payments'] });
  expect(nextSteps(dns, finding('dns', 'nxdomain', { nameservers: ['10.96.0.10'] }), 'web-7f9c')).toEqual([
    { label: 'Re-run', text: 'dns deploy/web -n prod payments' },
    { label: 'Ask the cluster DNS (10.96.0.10) directly', text: 'dns deploy/web -n prod payments --server 10.96.0.10' },
    { label: 'Same check on every pod (--all)', text: 'dns deploy/web -n prod payments --all' },
  ]);
  // Already --server, or already --all: not offered again.
  expect(nextSteps({ ...dns, options: { server: '10.96.0.10' }, all: true }, finding('dns', 'nxdomain', { nameservers: ['10.96.0.10'] })).map((s) => s.label)).toEqual(['Re-run']);
});

test('http with a TLS error: the certificate in detail from the same pod', () => {
  const http = job('/kdebug http web-0 -n prod https://api.prod/', { check: 'http', positional: ['https://api.prod/'] });
  expect(nextSteps(http, finding('http', 'tls-error'), 'web-0')[1]).toEqual({ label: 'Certificate details', text: 'tls pod/web-0 -n prod api.prod:443' });
});

test('buttons: one action id each, the command as the value; one too long for Slack is left out', () => {
  const block = nextStepButtons([
    { label: 'Re-run', text: 'dns web-0 -n prod' },
    { label: 'Huge', text: `dns web-0 ${'x'.repeat(2000)}` },
    { label: 'Listening on this pod?', text: 'listen web-0 -n prod' },
  ]);
  expect(block).toEqual({
    type: 'actions',
    block_id: 'kdebug_next',
    elements: [
      { type: 'button', action_id: 'kdebug_run_0', text: { type: 'plain_text', text: 'Re-run' }, value: 'dns web-0 -n prod' },
      { type: 'button', action_id: 'kdebug_run_1', text: { type: 'plain_text', text: 'Listening on this pod?' }, value: 'listen web-0 -n prod' },
    ],
  });
  expect(nextStepButtons([])).toBeUndefined();
});

test('a flag added to the typed command goes before a bare --, after which it would be an argument', () => {
  const dns = job('/kdebug dns deploy/web -n prod -- -weird.name', { target: { kind: 'deployment', name: 'web' }, positional: ['-weird.name'] });
  expect(nextSteps(dns, finding('dns', 'nxdomain', { nameservers: ['10.96.0.10', 'not-an-ip'] }), 'web-7f9c').map((s) => s.text)).toEqual([
    'dns deploy/web -n prod -- -weird.name',
    'dns deploy/web -n prod --server 10.96.0.10 -- -weird.name',
    'dns deploy/web -n prod --all -- -weird.name',
  ]);
  // A resolver that is not an IP address is never offered.
  expect(nextSteps(dns, finding('dns', 'nxdomain', { nameservers: ['evil; rm -rf /'] }), 'web-7f9c').map((s) => s.label)).toEqual(['Re-run', 'Same check on every pod (--all)']);
});

test('a tls problem: the full chain, every certificate in detail', () => {
  const tls = job('/kdebug tls web-0 -n prod api.prod:443', { check: 'tls', positional: ['api.prod:443'] });
  expect(nextSteps(tls, finding('tls', 'untrusted-issuer'), 'web-0')[1]).toEqual({ label: 'Show the full chain', text: 'tls web-0 -n prod api.prod:443 --chain' });
  expect(nextSteps({ ...tls, options: { chain: 'yes' } }, finding('tls', 'untrusted-issuer'), 'web-0').map((s) => s.label)).toEqual(['Re-run']);
});
