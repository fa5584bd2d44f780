import { whoami } from '../../../src/policy/whoami.js';
import { BOB, INCIDENTS, policy, SRE, STAGING } from './fixture.js';

describe('whoami', () => {
  test('lists the rules that apply to the user, in order, with where, what and limits', () => {
    const text = whoami(policy, BOB, INCIDENTS, [SRE]);
    expect(text).toBe(
      [
        'What <@U0BOB> may run in <#C0INCIDENT> (rules in order; the first that matches decides, anything else is refused):',
        '• `no-prod-capture-outside-private`: deny `capture` in `prod*`',
        '• `sre-capture` (only in <#C0SREPRIV>, direct messages: not here): allow `capture` in any namespace except system ones · at most 5 per 60 s',
        '• `sre`: allow every check except `capture` in any namespace except system ones and `kube-system` · at most 30 per 60 s · may go past the per-pod debug container budget',
        'Your groups in this policy: `S0SRE`.',
        'System namespaces (`kube-system`, `kube-public`, `kube-node-lease`, `gatekeeper-system`, `openshift-*`) need a rule that names them; `capture` must be granted by name.',
        'For more access, ask #platform-team.',
      ].join('\n'),
    );
  });

  test('spells out "*" with the installed checks when given', () => {
    expect(whoami(policy, BOB, STAGING, [], { checkNames: ['dns', 'http', 'capture'] })).toContain('• `staging-channel`: allow `dns`, `http` in `staging` · at most 5 per 60 s');
  });

  test('says plainly when nothing is allowed, and that channel rules do not apply in DMs', () => {
    const text = whoami(policy, BOB, 'D0BOB', []);
    expect(text.split('\n')[0]).toBe("<@U0BOB>, you can't run any check in direct messages: no rule allows you (default deny).");
    expect(text).toContain('Rules for channels do not apply in direct messages.');
    expect(text).not.toContain('staging-channel');
    expect(text).toContain('For more access, ask #platform-team.');
  });
});
