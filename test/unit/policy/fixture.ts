// The policy most policy tests use, and the people, groups and channels it names.
import { parsePolicy, type PolicyRequest } from '../../../src/policy/rules.js';

export const SRE = 'S0SRE';
export const PAY = 'S0PAY';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
export const CAROL = 'U0CAROL';
export const INCIDENTS = 'C0INCIDENT';
export const STAGING = 'C0STAGING';
export const PRIVATE = 'C0SREPRIV';
export const DM = 'D0ALICEDM';

const POLICY = `
version: 1
contact: "#platform-team"
systemNamespaces: [gatekeeper-system, "openshift-*"]
defaults:
  rate: { requests: 5, windowSeconds: 60 }
rules:
  - name: no-prod-capture-outside-private
    effect: deny
    everyone: true
    namespaces: ["prod*"]
    checks: [capture]
    reason: captures of prod hold customer data
    contact: "#security"
  - name: sre-capture
    groups: [${SRE}]
    onlyIn: [${PRIVATE}, dm]
    namespaces: ["*"]
    checks: [capture]
  - name: sre
    groups: [${SRE}]
    namespaces: ["*", kube-system]
    checks: ["*"]
    limits:
      rate: { requests: 30, windowSeconds: 60 }
      allowBudgetOverride: true
  - name: payments
    groups: [${PAY}]
    namespaces: ["payments-*", "pay-??"]
    checks: [dns, http]
  - name: staging-channel
    channels: [${STAGING}]
    namespaces: [staging]
    checks: ["*"]
  - users: [${ALICE}]
    namespaces: [dev]
    checks: [dns]
`;

export const policy = parsePolicy(POLICY, 'test-policy.yaml');

export function req(overrides: Partial<PolicyRequest>): PolicyRequest {
  return { userId: CAROL, channelId: INCIDENTS, namespace: 'prod', check: 'dns', userGroups: [], ...overrides };
}
