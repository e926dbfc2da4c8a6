/** Where the bench finds the repository's files, from either scripts/ or the compiled dist/scripts/. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest folder above this file holding our package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The PyTorch side of the op bench (a source file: tsc does not copy it into dist/). */
export function torchScript(): string {
  return path.join(repoRoot(), 'scripts', 'bench', 'torch_ops.py');
}

/**
 * Folders whose node_modules may hold the peers we compare against but do not depend on:
 * the repository's own, then `.peers/` (git-ignored), for checkouts whose node_modules is
 * shared or must stay exactly as `npm ci` left it.
 */
export function peerFolders(): string[] {
  const root = repoRoot();
  return [root, path.join(root, '.peers')];
}
