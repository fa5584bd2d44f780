// Least privilege for every check's debug container: drop ALL, add only what the check declares,
// never privileged, no privilege escalation, the runtime's default seccomp profile.
import { checks } from '../../../src/checks/index.js';
import { debugContainerSpec } from '../../../src/kube/ephemeral.js';

describe.each([...checks.values()].map((check) => [check.name, check] as const))('%s', (_name, check) => {
  const spec = debugContainerSpec(
    {
      namespace: 'prod',
      pod: { metadata: { name: 'web-0' }, spec: { containers: [{ name: 'app' }] } },
      containerName: 'kdebug-0123456789abcdef',
      image: 'nicolaka/netshoot',
      imagePullPolicy: 'IfNotPresent',
      capabilities: check.capabilities,
      command: ['sh', '-c', 'true'],
      deadline: 0,
      maxLogBytes: 1024,
    },
    'app',
  );

  test('the container spec grants only what the check declares', () => {
    expect(spec.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.securityContext?.capabilities?.add ?? []).toEqual([...check.capabilities]);
    for (const cap of check.capabilities) expect(['NET_RAW']).toContain(cap);
    // A check that needs no capability runs as a non-root user (the "restricted" Pod Security level).
    if (check.capabilities.length === 0) expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    // Nothing an ephemeral container may not have, and nothing that would widen it.
    for (const field of ['ports', 'resources', 'lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe', 'volumeMounts', 'env']) expect(spec).not.toHaveProperty(field);
    expect(spec).toMatchObject({ targetContainerName: 'app', stdin: false, tty: false });
  });
});
