import { KubeConfig } from '@kubernetes/client-node';
import { App } from '@slack/bolt';
test('esm imports', () => { expect(typeof KubeConfig).toBe('function'); expect(typeof App).toBe('function'); });
