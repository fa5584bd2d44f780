// The Dockerfile and .dockerignore, checked statically (no image can be built here). The Dockerfile is
// parsed by dockerfile-ast and linted by dockerfile-utils (the parser and validator behind the Docker
// language server in VS Code and other editors: syntax, flags, JSON forms, stage names, instruction
// arguments). The assertions below are the image's promises: multi-stage, Node.js 24 LTS at run time,
// a numeric non-root user, only production dependencies and only dist/, config/, node_modules/ and
// package.json in the final image, an exec-form ENTRYPOINT with the role as CMD, no secrets.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { repoRoot } from './helm-support.js';
import { shippedNodeFlags } from '../support/processes.js';

const dockerfileText = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(dockerfileText);
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; engines: { node: string } };

interface Stage {
  name?: string;
  image: string;
  instructions: Instruction[];
}

/** Global ARG defaults (before the first FROM), which FROM lines may use. */
const globalArgs = new Map(
  dockerfile.getInitialARGs().flatMap((arg) => {
    const p = arg.getProperty();
    return p ? [[p.getName(), p.getValue() ?? ''] as const] : [];
  }),
);
const expand = (text: string) => text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, name: string) => globalArgs.get(name) ?? m);

const stages: Stage[] = (() => {
  const froms = dockerfile.getFROMs();
  const all = dockerfile.getInstructions();
  return froms.map((from, i) => {
    const start = from.getRange().start.line;
    const end = froms[i + 1]?.getRange().start.line ?? Number.MAX_SAFE_INTEGER;
    const name = from.getBuildStage() ?? undefined;
    return {
      ...(name ? { name } : {}),
      image: expand(from.getImage() ?? ''),
      instructions: all.filter((ins) => ins.getRange().start.line > start && ins.getRange().start.line < end),
    };
  });
})();
const finalStage = stages[stages.length - 1]!;
const ofKind = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const fromFlag = (i: Instruction) => (i as unknown as { getFromFlag(): { getValue(): string | null } | null }).getFromFlag()?.getValue() ?? undefined;
const jsonForm = (i: Instruction) => (i as unknown as { getJSONStrings(): Array<{ getJSONValue(): string }> }).getJSONStrings().map((s) => s.getJSONValue());

describe('Dockerfile', () => {
  test('lints clean (dockerfile-utils: no errors, no warnings)', () => {
    // (LSP lets a diagnostic's message be plain text or MarkupContent.)
    const problems = validate(dockerfileText).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
    expect(problems).toEqual([]);
  });

  test('is multi-stage: named build stages, then the runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages.slice(0, -1)) expect(stage.name).toMatch(/^[a-z][a-z0-9-]*$/);
    const build = stages.find((s) => ofKind(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.getArgumentsContent() ?? '')));
    expect(build).toBeDefined();
    expect(build).not.toBe(finalStage);
    // The build stage compiles with the dev dependencies, from the lockfile.
    expect(
      ofKind(build!, 'RUN')
        .map((r) => r.getArgumentsContent())
        .join('\n'),
    ).toMatch(/\bnpm ci\b(?!.*--omit=dev)/);
  });

  test('every base image is pinned by a tag or digest (never latest), and all are Node.js 24', () => {
    for (const stage of stages) {
      expect(stage.image).not.toMatch(/\$/);
      expect(stage.image).toMatch(/(:[\w][\w.-]*|@sha256:[a-f0-9]{64})$/);
      expect(stage.image).not.toMatch(/:latest$/);
      expect(stage.image).toMatch(
        /^(?:(?:docker\.io\/)?(?:library\/)?node:24(?:\.\d+){0,2}(?:-[a-z0-9]+)*|gcr\.io\/distroless\/nodejs24-debian1[23](?::[\w.-]+)?)(?:@sha256:[a-f0-9]{64})?$/,
      );
    }
    // package.json's engines say Node.js 24; 24 is an LTS line (even major).
    expect(pkg.engines.node).toBe('>=24');
  });

  test('the runtime stage is a Node.js 24 LTS image: distroless nodejs24 or node:24-slim', () => {
    expect(finalStage.image).toMatch(/^(gcr\.io\/distroless\/nodejs24-debian1[23]|(docker\.io\/)?(library\/)?node:24(\.\d+){0,2}(-[a-z]+)*-slim)(:|@|$)/);
  });

  test('the runtime stage runs as a numeric, non-root user', () => {
    const users = ofKind(finalStage, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = args(users[users.length - 1]!).join(' ');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).not.toBe(0);
    if (gid !== undefined) expect(gid).not.toBe(0);
    // The Helm chart's securityContext runs it as the same user.
    expect(uid).toBe(65532);
  });

  test('the runtime stage holds only dist/, config/, production node_modules/ and package.json', () => {
    expect(ofKind(finalStage, 'ADD')).toEqual([]);
    const workdir = args(ofKind(finalStage, 'WORKDIR').pop()!)[0]!;
    expect(workdir).toMatch(/^\//);
    const copied: string[] = [];
    for (const copy of ofKind(finalStage, 'COPY')) {
      const [dest, ...sources] = args(copy).reverse();
      for (const source of sources) {
        const name = source.replace(/\/+$/, '').split('/').pop()!;
        copied.push(name);
        // Copied to where load.ts and the ENTRYPOINT expect them: <workdir>/<name>.
        expect([`./${name}`, `${workdir}/${name}`, './', `${workdir}/`, workdir]).toContain(dest!.replace(/\/+$/, '') === '.' ? './' : dest);
        const stage = fromFlag(copy);
        if (name === 'node_modules') {
          // From a stage that installed production dependencies only.
          const producer = stages.find((s) => s.name === stage);
          expect(producer).toBeDefined();
          const runs = ofKind(producer!, 'RUN')
            .map((r) => r.getArgumentsContent() ?? '')
            .join('\n');
          expect(runs).toMatch(/\bnpm ci\b[^\n]*--omit=dev/);
          expect(runs).not.toMatch(/\bnpm (install|i|add)\b/);
        }
        if (name === 'dist') expect(stage).toBeDefined();
      }
    }
    expect(copied.sort()).toEqual(['config', 'dist', 'node_modules', 'package.json']);
  });

  test('no dependency is installed in the runtime stage (and nothing that would bring dev dependencies)', () => {
    for (const run of ofKind(finalStage, 'RUN')) {
      const text = run.getArgumentsContent() ?? '';
      expect(text).not.toMatch(/\bnpm (install|i|add)\b/);
      if (/\bnpm ci\b/.test(text)) expect(text).toMatch(/--omit=dev/);
    }
  });

  test('ENTRYPOINT is exec form running dist/cli.js with node; CMD picks the role (all)', () => {
    const entrypoints = ofKind(finalStage, 'ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    const entry = jsonForm(entrypoints[0]!);
    expect(entry[0]).toMatch(/^(node|\/nodejs\/bin\/node|\/usr\/local\/bin\/node)$/);
    // node's own flags between node and the script: the ones tests and benchmarks start node with.
    expect(entry.slice(1, -1)).toEqual(shippedNodeFlags());
    expect(entry.slice(1, -1)).toEqual(['--max-semi-space-size=1']);
    expect(entry.at(-1)).toBe(pkg.bin.kdebug);
    const cmds = ofKind(finalStage, 'CMD');
    expect(cmds).toHaveLength(1);
    expect(jsonForm(cmds[0]!)).toEqual(['all']);
  });

  test('no ENV or ARG with a secret-looking name or value, in any stage', () => {
    const secretName = /TOKEN|SECRET|PASSW(OR)?D|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|AUTH|NPM_?RC/i;
    const secretValue = /xox[abposr]-|xapp-|-----BEGIN/;
    for (const instruction of dockerfile.getInstructions()) {
      const keyword = instruction.getKeyword();
      if (keyword !== 'ENV' && keyword !== 'ARG') continue;
      for (const p of (instruction as unknown as { getProperties(): Array<{ getName(): string; getValue(): string | null }> }).getProperties()) {
        expect(`${keyword} ${p.getName()}`).not.toMatch(secretName);
        expect(p.getValue() ?? '').not.toMatch(secretValue);
      }
    }
    // No build secret mounts or files with credentials either.
    expect(dockerfileText).not.toMatch(/--mount=type=secret|\.npmrc|\.env\b/);
  });

  test('NODE_ENV=production at run time', () => {
    const env = ofKind(finalStage, 'ENV').flatMap((e) => (e as unknown as { getProperties(): Array<{ getName(): string; getValue(): string | null }> }).getProperties());
    expect(env.find((p) => p.getName() === 'NODE_ENV')?.getValue()).toBe('production');
  });
});

// ---- .dockerignore --------------------------------------------------------------------------------

/** Docker's .dockerignore rules: Go filepath.Match patterns plus `**`, `!` exceptions, last match wins. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      const body = pattern
        .split('/')
        .map((segment) =>
          segment === '**'
            ? '(?:.*)'
            : segment
                .replace(/[.+^${}()|\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      // A pattern that matches a directory excludes everything below it.
      return { negate, re: new RegExp(`^${body}(?:/.*)?$`) };
    });
  return (path) => rules.reduce((excluded, rule) => (rule.re.test(path) ? !rule.negate : excluded), false);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [relative(repoRoot, path)];
  });
}

describe('.dockerignore', () => {
  const excluded = dockerignore(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));

  test.each([
    'node_modules/yaml/package.json',
    'src/node_modules/x.js',
    'dist/cli.js',
    '.git/HEAD',
    'test/e2e/dns-path.test.ts',
    '.tools/kubectl-layer/helm/helm',
    'npm-debug.log',
    'logs/worker.log',
    '.env',
    '.env.local',
    'coverage/lcov.info',
    'helm/kdebug/values.yaml',
    'scripts/setup.sh',
    '.npmrc',
    'kubeconfig',
    'tls.key',
    'config/tls/server.key',
    'src/.env',
  ])('keeps %s out of the build context', (path) => {
    expect(excluded(path)).toBe(true);
  });

  test('keeps everything the Dockerfile copies from the context in it', () => {
    const fromContext = dockerfile
      .getCOPYs()
      .filter((c) => fromFlag(c) === undefined)
      .flatMap((c) => args(c).slice(0, -1));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) {
      const path = join(repoRoot, source);
      const files = statSync(path).isDirectory() ? filesUnder(path) : [source];
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter(excluded)).toEqual([]);
    }
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.mjs', 'src/cli.ts', 'config/kdebug.yaml']) {
      expect(fromContext.some((s) => needed === s || needed.startsWith(`${s.replace(/\/+$/, '')}/`))).toBe(true);
    }
  });
});
