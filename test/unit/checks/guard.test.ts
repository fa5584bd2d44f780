import { interpretSafely } from '../../../src/checks/guard.js';

test('a parser that throws still gives a finding, with the check, its fallback verdict and the steps', () => {
  const steps = [{ id: 'dig-1', argv: ['dig'], exitCode: 0, output: '' }, { bogus: true }];
  const finding = interpretSafely({ check: 'dns', verdict: 'timeout', tool: 'dig' }, steps, () => {
    throw new Error('unexpected output');
  });
  expect(finding).toEqual({ check: 'dns', verdict: 'timeout', headline: 'Could not interpret the output of dig: unexpected output', facts: {}, steps: [steps[0]] });
});
