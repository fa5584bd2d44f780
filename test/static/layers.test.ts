// Proves that eslint.config.js keeps the layering of src/ true: a module imports only from its own
// folder or from lower layers (core → checks → config → grammar → observability → kube → runner →
// policy → queue → slack → delivery → worker | bot → cli), checks/ does no I/O, the bot never loads
// @kubernetes/client-node, and every folder of src/ has a layer. It lints made-up code through
// ESLint's Node API with the project's own config, so it fails if the layer rules are removed.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

// Only the layer rules, and no type information: the made-up files exist in no tsconfig program,
// and the boundary rules read the import specifiers alone.
const eslint = new ESLint({
  cwd: repoRoot,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => LAYER_RULES.has(ruleId),
});

async function lint(filePath: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  if (!result) throw new Error(`ESLint returned no result for ${filePath}`);
  const fatal = result.messages.filter((m) => m.fatal);
  if (fatal.length > 0) throw new Error(`${filePath} did not parse: ${fatal.map((m) => m.message).join('; ')}`);
  return result.messages;
}

async function violations(filePath: string, code: string): Promise<string[]> {
  return (await lint(filePath, code)).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('imports point down only', () => {
  test.each([
    ['src/checks/example.ts', "import { runJob } from '../worker/run-job.js';", 'checks/ (layer 2) must not import from worker/ (layer 12)'],
    ['src/checks/example.ts', "import type { Config } from '../config/schema.js';", 'checks/ (layer 2) must not import from config/ (layer 3)'],
    ['src/core/example.ts', "export { checks } from '../checks/index.js';", 'core/ (layer 1) must not import from checks/ (layer 2)'],
    ['src/config/example.ts', "import { admit } from '../policy/admission.js';", 'config/ (layer 3) must not import from policy/ (layer 8)'],
    ['src/slack/example.ts', "import type { Outbox } from '../delivery/outbox.js';", 'slack/ (layer 10) must not import from delivery/ (layer 11)'],
    ['src/delivery/example.ts', "import { runJob } from '../worker/run-job.js';", 'delivery/ (layer 11) must not import from worker/ (layer 12)'],
    ['src/worker/example.ts', "import { report } from '../cli/report.js';", 'worker/ (layer 12) must not import from cli/ (layer 13)'],
    ['src/kube/nested/example.ts', "import { x } from '../../runner/pod.js';", 'kube/ (layer 6) must not import from runner/ (layer 7)'],
  ])('%s: %s', async (file, code, expected) => {
    const found = await violations(file, code);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('no-restricted-imports');
    expect(found[0]).toContain(expected);
  });

  test('worker/ and bot/ are two roles: neither imports the other', async () => {
    expect(await violations('src/worker/example.ts', "import { startBot } from '../bot/app.js';")).toEqual([expect.stringContaining('bot/ are separate roles')]);
    expect(await violations('src/bot/example.ts', "import { runJob } from '../worker/run-job.js';")).toEqual([expect.stringContaining('worker/ are separate roles')]);
  });

  test('a dynamic import() that climbs up is caught too', async () => {
    const found = await violations('src/checks/example.ts', "export const load = () => import('../worker/worker.js');");
    expect(found).toEqual([expect.stringMatching(/^no-restricted-syntax: checks\/ \(layer 2\) must not import from worker\//)]);
  });

  test('the bot never loads @kubernetes/client-node', async () => {
    for (const code of ["import * as k8s from '@kubernetes/client-node';", "import type { V1Pod } from '@kubernetes/client-node';"]) {
      expect(await violations('src/bot/example.ts', code)).toEqual([expect.stringContaining('The bot never talks to Kubernetes')]);
    }
    expect(await violations('src/worker/example.ts', "import * as k8s from '@kubernetes/client-node';")).toEqual([]);
    expect(await violations('src/kube/example.ts', "import * as k8s from '@kubernetes/client-node';")).toEqual([]);
  });

  test('checks/ does no I/O', async () => {
    for (const mod of ['node:fs', 'node:fs/promises', 'node:child_process', 'node:http', 'node:https', 'node:dgram', 'fs', 'child_process']) {
      expect(await violations('src/checks/example.ts', `import * as io from '${mod}';`)).toEqual([expect.stringContaining('checks/ is pure')]);
    }
    expect(await violations('src/checks/example.ts', "import { isIP } from 'node:net';")).toEqual([]);
    expect(await violations('src/runner/example.ts', "import { spawn } from 'node:child_process';")).toEqual([]);
  });

  test('src/ never imports test code', async () => {
    expect(await violations('src/cli.ts', "import { x } from '../test/support/stack.js';")).toEqual([expect.stringContaining('must not import test')]);
    expect(await violations('src/kube/example.ts', "import { x } from '../../test/support/kube-emulator.js';")).toEqual([expect.stringContaining('must not import test')]);
  });

  test('imports within a folder, downward, and from packages are allowed', async () => {
    const allowed: [string, string][] = [
      ['src/core/example.ts', "import { clip } from './text.js';"],
      ['src/checks/example.ts', "import { clip } from '../core/text.js';\nimport { z } from 'zod';\nimport { guard } from './guard.js';"],
      ['src/grammar/example.ts', "import type { CheckDefinition } from '../checks/types.js';"],
      ['src/runner/example.ts', "import { createKubeClients } from '../kube/client.js';"],
      ['src/slack/example.ts', "import type { DiagnosticJob } from '../queue/job.js';"],
      ['src/delivery/example.ts', "import { JobThread } from '../slack/web.js';"],
      ['src/worker/example.ts', "import { Outbox } from '../delivery/outbox.js';\nimport { checks } from '../checks/index.js';"],
      ['src/bot/example.ts', "import { parseCommand } from '../grammar/parse.js';\nimport { App } from '@slack/bolt';"],
      ['src/bot/example.ts', "export const load = () => import('../queue/job.js');"],
      ['src/cli/example.ts', "import { runWorker } from '../worker/worker.js';\nimport { startBot } from '../bot/app.js';"],
      ['src/cli.ts', "import { runWorker } from './worker/worker.js';\nimport { run } from './cli/run.js';"],
      ['test/unit/example.test.ts', "import { runWorker } from '../../src/worker/worker.js';\nimport { x } from '../support/stack.js';"],
    ];
    for (const [file, code] of allowed) expect({ file, found: await violations(file, code) }).toEqual({ file, found: [] });
  });

  test('every folder of src/ with a .ts file has a layer', async () => {
    const folders = readdirSync(join(repoRoot, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && readdirSync(join(repoRoot, 'src', d.name), { recursive: true }).some((f) => String(f).endsWith('.ts')))
      .map((d) => d.name);
    expect(folders).toEqual(expect.arrayContaining(['core', 'checks', 'worker', 'bot']));
    const unlayered: string[] = [];
    for (const folder of folders) {
      const config = await eslint.calculateConfigForFile(`src/${folder}/example.ts`);
      if (!config?.rules?.['no-restricted-imports']) unlayered.push(folder);
    }
    expect(unlayered).toEqual([]);
  });
});
