/**
 * Where the bench finds the repository's files, from either scripts/ or the compiled
 * dist/scripts/: under the package root (lib/native.ts), which in a checkout is the repository's.
 */
import * as path from 'node:path';
import { packageRoot } from '../../lib/native';

/** The PyTorch side of the op bench (a source file: tsc does not copy it into dist/). */
export function torchScript(): string {
  return path.join(packageRoot(), 'scripts', 'bench', 'torch_ops.py');
}

/**
 * Folders whose node_modules may hold the peers we compare against but do not depend on:
 * the repository's own, then `.peers/` (git-ignored), for checkouts whose node_modules is
 * shared or must stay exactly as `npm ci` left it.
 */
export function peerFolders(): string[] {
  const root = packageRoot();
  return [root, path.join(root, '.peers')];
}
