/**
 * Where no binary fits, `require('alexnet-cudnn')` throws one error saying why and what to do
 * (lib/native.ts): a copy of the built package (dist/lib, package.json, data/) in a temporary
 * folder, without a build from source, with no prebuilt binary for this platform or with one
 * that does not load, required in a child process.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectFreshBuild } from './util/built-cli';
import { packageCopy } from './util/package-copy';

const PLATFORM = `${process.platform}-${process.arch}`;
const BUILD = 'Could not load the alexnet-cudnn native addon';
const WHAT_TO_DO =
  '`npx alexnet build` builds it from source into the package, offline (a C++17 compiler, and CMake or else node-gyp for the CPU backend only).';

let dir: string;
beforeAll(() => {
  expectFreshBuild();
  dir = packageCopy('alexnet-load-error-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The error message of requiring the copy, and the process's exit status. */
function requireCopy(): { status: number | null; message: string } {
  const script = `try { require('./dist/lib'); } catch (e) { console.log(e.name + ': ' + e.message); process.exit(3); }`;
  const env = { ...process.env, ALEXNET_NATIVE_PATH: '' };
  const result = spawnSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' });
  return { status: result.status, message: result.stdout.trim() };
}

test('no prebuilt binary for this platform and no build: says so, and that alexnet build makes one', () => {
  fs.mkdirSync(path.join(dir, 'prebuilds', 'darwin-arm64'), { recursive: true });
  expect(requireCopy()).toEqual({
    status: 3,
    message: `DeviceError: ${BUILD}: alexnet-cudnn has no prebuilt binary for ${PLATFORM} (it ships darwin-arm64) and none was built here.\n${WHAT_TO_DO}`,
  });
});

test('a prebuilt binary that does not load: its needs, the loader error and what to do', () => {
  const folder = path.join(dir, 'prebuilds', PLATFORM);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'alexnet_native.node'), 'not an ELF file');
  fs.writeFileSync(
    path.join(folder, 'manifest.json'),
    JSON.stringify({ glibc: '9.99', glibcxx: '3.4.99' }),
  );
  const { status, message } = requireCopy();
  expect(status).toBe(3);
  const [first, second, third] = message.split('\n');
  expect(first).toMatch(
    new RegExp(
      `^DeviceError: ${BUILD}: the prebuilt binary for ${PLATFORM} does not load here \\(it needs glibc 9\\.99 and libstdc\\+\\+ GLIBCXX_3\\.4\\.99 or newer; this machine has glibc [\\d.]+\\): .*(invalid ELF header|file too short).*\\.$`,
    ),
  );
  expect(second).toBe(WHAT_TO_DO);
  expect(third).toBeUndefined();
});
