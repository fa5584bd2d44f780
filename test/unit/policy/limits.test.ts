import { limitSettingsSchema } from '../../../src/config/schema.js';
import { shippedSettings } from './helpers.js';

test('settings schema: the defaults are valid and a bad ceiling names the field', () => {
  const defaults = shippedSettings().limits;
  expect(limitSettingsSchema.parse(defaults)).toEqual(defaults);
  const bad = limitSettingsSchema.safeParse({ ...defaults, podBudget: { maxContainers: 10, overrideMaxContainers: 5, reservationTtlSeconds: 60 } });
  expect(bad.success).toBe(false);
  expect(bad.error!.issues[0]).toMatchObject({ path: ['podBudget', 'overrideMaxContainers'], message: 'overrideMaxContainers must be at least maxContainers' });
});
