// Where kdebug's own files (config/, package.json) are: the nearest folder above this module that
// holds a package.json. This module sits in src/config/ when run from source and in one of dist/'s
// bundled chunks when built (scripts/build.mjs), so no fixed number of `..` fits both.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRootAbove(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`kdebug: no package.json above ${file}: install kdebug with its package.json beside dist/`);
  }
}

export const PACKAGE_ROOT = packageRootAbove(fileURLToPath(import.meta.url));
