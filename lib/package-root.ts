/**
 * The package's root folder, found without loading the native addon: the build command
 * (scripts/build.ts) needs it where no addon loads yet, and the loader (lib/native.ts) finds the
 * addon's file from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The nearest folder above this file with our package.json (the addon and the files under data/
 * are found from there, whether this runs from lib/ or dist/lib/).
 */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return __dirname;
    dir = parent;
  }
  return dir;
}

/** The package's version, from its package.json. */
export function packageVersion(): string {
  const file = path.join(packageRoot(), 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Where a build from source puts the addon (cmake-js, or node-gyp's output copied there). */
export function builtAddonFile(): string {
  return path.join(packageRoot(), 'build', 'Release', 'alexnet_native.node');
}

/** Where the binary shipped in the package for this platform is (scripts/prebuild.js). */
export function prebuiltAddonFile(): string {
  const platform = `${process.platform}-${process.arch}`;
  return path.join(packageRoot(), 'prebuilds', platform, 'alexnet_native.node');
}
