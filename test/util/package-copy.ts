/**
 * A copy of the built package in a temporary folder, for the tests of what happens where the
 * package is installed (which binary loads, what a load error says, what `alexnet build` makes)
 * without touching this checkout's build/ or prebuilds/. `node_modules` is a link to this
 * checkout's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/**
 * dist/lib and package.json; with `sources`, also what `alexnet build` compiles from (native/,
 * CMakeLists.txt) and the command itself (dist/scripts), as `npm pack` ships them.
 */
export function packageCopy(prefix: string, options: { sources?: boolean } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const entries = ['dist/lib', 'package.json'];
  if (options.sources) entries.push('dist/scripts', 'native', 'CMakeLists.txt');
  for (const entry of entries) {
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}
