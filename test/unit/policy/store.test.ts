import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policySettingsSchema } from '../../../src/config/schema.js';
import { DEFAULT_POLICY_PATH, PolicyStore, resolvePolicyPath, type ReloadResult } from '../../../src/policy/store.js';
import { BOB, INCIDENTS, req } from './fixture.js';
import { capturedLogger, shippedSettings } from './helpers.js';

describe('PolicyStore', () => {
  const allowDns = (ns: string) => `version: 1\ncontact: "#ops"\nrules:\n  - { name: r-${ns}, users: [${BOB}], namespaces: [${ns}], checks: [dns] }\n`;

  function setup(initial: string, watch = true) {
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-policy-'));
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, initial);
    const { logger, lines } = capturedLogger();
    const reloads: ReloadResult[] = [];
    const waiters: Array<() => void> = [];
    const store = new PolicyStore({
      path,
      logger,
      watch,
      debounceMs: 50,
      knownChecks: ['dns'],
      onReload: (r) => {
        reloads.push(r);
        waiters.splice(0).forEach((w) => w());
      },
    });
    const nextReload = () =>
      new Promise<ReloadResult>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload within 5 s')), 5000);
        waiters.push(() => {
          clearTimeout(timer);
          resolve(reloads[reloads.length - 1]!);
        });
      });
    return { dir, path, store, lines, reloads, nextReload };
  }

  const allowedIn = (store: PolicyStore, namespace: string) => store.evaluate(req({ userId: BOB, namespace })).allowed;

  test('a missing or broken file at start-up is an error', () => {
    const { logger } = capturedLogger();
    expect(() => new PolicyStore({ path: '/nonexistent/policy.yaml', logger, watch: false })).toThrow(
      'cannot read policy file /nonexistent/policy.yaml: ENOENT; point the policy path setting at a readable YAML file',
    );
    const dir = mkdtempSync(join(tmpdir(), 'kdebug-policy-'));
    writeFileSync(join(dir, 'p.yaml'), 'version: 1\n');
    expect(() => new PolicyStore({ path: join(dir, 'p.yaml'), logger, watch: false })).toThrow(`policy file ${join(dir, 'p.yaml')}: contact is required`);
  });

  test('reloads a good new file after a change, and debounces a burst of writes into one reload', async () => {
    const { path, store, nextReload, reloads } = setup(allowDns('one'));
    try {
      expect(allowedIn(store, 'one')).toBe(true);
      const reloaded = nextReload();
      writeFileSync(path, allowDns('two').slice(0, 20));
      writeFileSync(path, allowDns('two'));
      const result = await reloaded;
      expect(result).toMatchObject({ ok: true, changed: true });
      expect(allowedIn(store, 'two')).toBe(true);
      expect(allowedIn(store, 'one')).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
      expect(reloads).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  test('an editor-style save (write a temp file, rename it over) is picked up', async () => {
    const { dir, path, store, nextReload } = setup(allowDns('one'));
    try {
      const reloaded = nextReload();
      writeFileSync(join(dir, '.policy.yaml.swp'), allowDns('three'));
      renameSync(join(dir, '.policy.yaml.swp'), path);
      await reloaded;
      expect(allowedIn(store, 'three')).toBe(true);
    } finally {
      store.close();
    }
  });

  test('a broken new file keeps the old policy and logs one clear error; fixing it reloads', async () => {
    const { path, store, nextReload, lines } = setup(allowDns('one'));
    try {
      let reloaded = nextReload();
      writeFileSync(path, allowDns('two').replace('namespaces', 'namespacez'));
      expect(await reloaded).toEqual({ ok: false, error: `policy file ${path}: unknown field rules[0].namespacez; remove it or check its spelling` });
      expect(allowedIn(store, 'one')).toBe(true);
      // Same broken content seen again (another event, a manual reload): no second error.
      expect(store.reload().ok).toBe(false);
      const errors = lines().filter((l) => l.level === 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({
        policyFile: path,
        msg: `policy not reloaded, keeping the previous one: policy file ${path}: unknown field rules[0].namespacez; remove it or check its spelling`,
      });

      reloaded = nextReload();
      writeFileSync(path, allowDns('four'));
      expect(await reloaded).toMatchObject({ ok: true, changed: true });
      expect(allowedIn(store, 'four')).toBe(true);
    } finally {
      store.close();
    }
  });

  test('manual reload without a watch; unchanged content is not a change; warnings are logged', () => {
    const { path, store, lines } = setup(allowDns('one'), false);
    expect(store.reload()).toMatchObject({ ok: true, changed: false });
    writeFileSync(path, allowDns('one').replace('[dns]', '[dns, dsn]'));
    expect(store.reload()).toMatchObject({ ok: true, changed: true, warnings: ['rule "r-one" lists check "dsn", which is not installed'] });
    expect(lines().map((l) => l.msg)).toEqual(['policy loaded', 'policy reloaded', 'policy: rule "r-one" lists check "dsn", which is not installed']);
    expect(store.whoami(BOB, INCIDENTS, [])).toContain('`r-one`');
    expect(store.groupIds()).toEqual([]);
    store.close();
  });
});

test('policy settings: defaults valid, empty path means the shipped file', () => {
  const defaults = shippedSettings().policy;
  expect(policySettingsSchema.parse(defaults)).toEqual(defaults);
  expect(policySettingsSchema.safeParse({ ...defaults, auditChannel: '#audit' }).success).toBe(false);
  expect(resolvePolicyPath('')).toBe(DEFAULT_POLICY_PATH);
  expect(resolvePolicyPath('/etc/kdebug/policy.yaml')).toBe('/etc/kdebug/policy.yaml');
});
