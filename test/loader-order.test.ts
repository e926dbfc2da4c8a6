/**
 * Which binary `require('alexnet-cudnn')` loads (lib/native.ts `addonFile`), as the README's
 * Requirements and test:asan sections state: `ALEXNET_NATIVE_PATH` when set, else a build from
 * source in build/Release, else the prebuilt binary in prebuilds/<platform>-<arch>/. A copy of
 * the built package (dist/lib, package.json) in a temporary folder gets copies of this
 * checkout's addon in those places, and a child process requires it: the file the process
 * mapped (/proc/self/maps, the kernel's word, not the loader's) and `addonInfo()` must both
 * name the expected one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addonFile } from '../lib/native';
import { expectFreshBuild } from './util/built-cli';
import { packageCopy } from './util/package-copy';

const PLATFORM = `${process.platform}-${process.arch}`;

/** What a child process that requires the copy loaded, or the error it got. */
interface Loaded {
  info?: { file: string; prebuilt: boolean };
  mapped?: string[];
  error?: string;
}

let dir: string;
/** The three places, in the copy, the loader may take the addon from. */
let built: string;
let prebuilt: string;
let chosen: string;

beforeAll(() => {
  expectFreshBuild();
  dir = packageCopy('alexnet-loader-');
  built = path.join(dir, 'build', 'Release', 'alexnet_native.node');
  prebuilt = path.join(dir, 'prebuilds', PLATFORM, 'alexnet_native.node');
  chosen = path.join(dir, 'elsewhere', 'alexnet_native.node');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Puts a copy of this checkout's addon (the one that loads here) at `file`. */
function place(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(addonFile(), file);
}

function requireCopy(env: Record<string, string> = {}): Loaded {
  const script = `
    let result;
    try {
      const info = require('./dist/lib').addonInfo();
      const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n');
      const mapped = [...new Set(maps.filter((l) => l.endsWith('alexnet_native.node')).map((l) => l.slice(l.indexOf('/'))))];
      result = { info: { file: info.file, prebuilt: info.prebuilt }, mapped };
    } catch (e) {
      result = { error: e.message };
    }
    console.log(JSON.stringify(result));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    cwd: dir,
    env: { ...process.env, ALEXNET_NATIVE_PATH: '', ...env },
    encoding: 'utf8',
  });
  expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: '' });
  return JSON.parse(child.stdout) as Loaded;
}

test('the prebuilt binary alone: it loads', () => {
  place(prebuilt);
  expect(requireCopy()).toEqual({ info: { file: prebuilt, prebuilt: true }, mapped: [prebuilt] });
});

test('a build in build/Release beside the prebuilt binary: the build loads', () => {
  place(built);
  expect(requireCopy()).toEqual({ info: { file: built, prebuilt: false }, mapped: [built] });
});

test('ALEXNET_NATIVE_PATH beside both: the file it names loads', () => {
  place(chosen);
  expect(requireCopy({ ALEXNET_NATIVE_PATH: chosen })).toEqual({
    info: { file: chosen, prebuilt: false },
    mapped: [chosen],
  });
});

test('a build in build/Release that does not load is reported; the prebuilt binary is not tried instead', () => {
  fs.writeFileSync(built, 'not an ELF file');
  const { error } = requireCopy();
  expect(error).toMatch(
    new RegExp(
      `^Could not load the alexnet-cudnn native addon: the addon built from source at ${built} does not load: .*(invalid ELF header|file too short)`,
    ),
  );
});
