import { checks } from '../../../src/checks/index.js';
import type { Inventory } from '../../../src/core/inventory.js';
import { builderCommand, builderView, namespaceOptions, targetOptions, type ViewState } from '../../../src/slack/builder.js';

const inventory: Inventory = {
  at: 0,
  truncated: false,
  namespaces: {
    prod: {
      workloads: ['deployment/web', 'statefulset/db'],
      pods: [
        { name: 'db-0', phase: 'Running', node: 'n1' },
        { name: 'web-7f9c-a', phase: 'Pending' },
      ],
    },
    staging: { workloads: [], pods: [{ name: 'web-0', phase: 'Running' }] },
  },
};
const values = (options: PlainTextOptionsLike) => options.map((o) => o.value);
type PlainTextOptionsLike = Array<{ value?: string }>;

test('namespaces containing what was typed, and what was typed when the inventory lists nothing like it', () => {
  expect(values(namespaceOptions(inventory, ''))).toEqual(['prod', 'staging']);
  expect(values(namespaceOptions(inventory, 'PR'))).toEqual(['prod']);
  expect(namespaceOptions(inventory, 'prod')).toEqual([{ text: { type: 'plain_text', text: 'prod' }, value: 'prod', description: { type: 'plain_text', text: '2 pods' } }]);
  expect(values(namespaceOptions(undefined, 'payments'))).toEqual(['payments']);
});

test('targets: workloads first, then pods with their phase and node; the typed name when unknown', () => {
  expect(values(targetOptions(inventory, 'prod', ''))).toEqual(['deployment/web', 'statefulset/db', 'db-0', 'web-7f9c-a']);
  expect(values(targetOptions(inventory, 'prod', 'web'))).toEqual(['deployment/web', 'web-7f9c-a']);
  expect(values(targetOptions(inventory, 'prod', 'web-new-0'))).toEqual(['web-new-0']);
  expect(targetOptions(inventory, 'prod', 'db-0')[0]).toEqual({
    text: { type: 'plain_text', text: 'db-0' },
    value: 'db-0',
    description: { type: 'plain_text', text: 'Running · n1' },
  });
  expect(values(targetOptions(inventory, 'nowhere', 'api-0'))).toEqual(['api-0']);
});

test('the command a submission spells: flags before the free text', () => {
  const state: ViewState = {
    namespace: { namespace: { selected_option: { value: 'prod' } } },
    target: { target: { selected_option: { value: 'deployment/web' } } },
    check: { check: { selected_option: { value: 'dns' } } },
    args: { args: { value: ' -- -odd.name ' } },
    all: { all: { selected_options: [{ value: 'all' }] } },
  };
  expect(builderCommand(state)).toBe('dns deployment/web -n prod --all -- -odd.name');
  expect(builderCommand({})).toBe('');
});

test('the modal: inputs with one id each, the channel in private_metadata, within Slack limits', () => {
  const view = builderView(checks, { channel: 'C0INCIDENT', defaultNamespace: 'prod' });
  expect(view.private_metadata).toBe('C0INCIDENT');
  expect(view.title.text.length).toBeLessThanOrEqual(24);
  const ids = view.blocks.flatMap((b) => ('block_id' in b && b.block_id ? [b.block_id] : []));
  expect(ids).toEqual(['namespace', 'target', 'check', 'args', 'all', 'preview', 'command']);
  const shown = builderView(checks, { channel: 'C0INCIDENT', defaultNamespace: 'prod', command: 'dns web-0 -n prod' });
  expect(JSON.stringify(shown.blocks.at(-1))).toContain('The same as typing `/kdebug dns web-0 -n prod`');
});

test('with more than one cluster alive, the modal asks which (the channel’s first) and the command says it', () => {
  const view = builderView(checks, { channel: 'C0INCIDENT', defaultNamespace: 'prod', clusters: ['prod-eu', 'prod-us'], defaultCluster: 'prod-us' });
  expect(view.blocks[0]).toMatchObject({ type: 'input', block_id: 'cluster', element: { type: 'static_select', initial_option: { value: 'prod-us' } } });
  expect(builderView(checks, { channel: 'C0INCIDENT', defaultNamespace: 'prod', clusters: ['prod-eu'] }).blocks[0]).toMatchObject({ block_id: 'namespace' });
  const state: ViewState = {
    cluster: { cluster: { selected_option: { value: 'prod-us' } } },
    namespace: { namespace: { selected_option: { value: 'prod' } } },
    target: { target: { selected_option: { value: 'api-0' } } },
    check: { check: { selected_option: { value: 'listen' } } },
  };
  expect(builderCommand(state)).toBe('listen api-0 -n prod --cluster prod-us');
});
