/**
 * `alexnet build` compiling the addon from source, as the README's Requirements state: without
 * CMake on the PATH it builds the CPU backend with node-gyp (native/binding.gyp), and with CMake,
 * `ALEXNET_CPU_ONLY=1` leaves the CUDA backend out even where nvcc is found. Each builds a
 * temporary copy of the package (native/, CMakeLists.txt, package.json and dist/), never this
 * checkout's build/, and then `alexnet doctor --json` in the copy must load the new binary and
 * pass its checks of the CPU backend against float64 references. Real builds of the CPU
 * backend: about half a minute each on 2 cores (node-gyp compiles serially).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expectFreshBuild } from './util/built-cli';
import { packageCopy } from './util/package-copy';

const onPath = (command: string) =>
  spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const compilers = ['g++', 'make', 'python3'].filter((tool) => !onPath(tool));
const gypWhy =
  compilers.length > 0 ? `${compilers.join(', ')} not on the PATH (node-gyp needs them)` : '';
const cmakeWhy = [
  !onPath('cmake') && 'cmake not on the PATH',
  !onPath('g++') && 'g++ not on the PATH',
  // Without nvcc a CMake build has no CUDA backend anyway: ALEXNET_CPU_ONLY would change nothing.
  !onPath('nvcc') && 'nvcc not on the PATH, so every CMake build here is CPU-only anyway',
]
  .filter(Boolean)
  .join('; ');
/** test, or test.skip with the reason in its title. */
const testIf = (why: string, name: string, body: () => Promise<void>, timeout: number) =>
  why ? test.skip(`${name} (skipped: ${why})`, body) : test(name, body, timeout);

/**
 * A folder of links to every command on the PATH but `cmake` (the first of each name, as the
 * shell would find it): the PATH of a machine without CMake that has everything else.
 */
function pathWithoutCmake(dir: string): string {
  const bin = path.join(dir, 'path-without-cmake');
  fs.mkdirSync(bin);
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!folder || !fs.existsSync(folder)) continue;
    for (const name of fs.readdirSync(folder)) {
      const link = path.join(bin, name);
      if (name !== 'cmake' && !fs.existsSync(link)) fs.symlinkSync(path.join(folder, name), link);
    }
  }
  return bin;
}

/** `alexnet build` in the copy; fails with its output unless it exits 0. */
function build(dir: string, env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, ['dist/scripts/alexnet.js', 'build'], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  const output = result.stdout + result.stderr;
  if (result.status !== 0) throw new Error(`alexnet build exited ${result.status}:\n${output}`);
  return output;
}

/** `alexnet doctor --json` in the copy: the binary it loaded and whether every check passed. */
function doctor(dir: string): { addon: { file: string; backends: string[] }; ok: boolean } {
  const result = spawnSync(process.execPath, ['dist/scripts/alexnet.js', 'doctor', '--json'], {
    cwd: dir,
    env: { ...process.env, ALEXNET_NATIVE_PATH: '' },
    encoding: 'utf8',
  });
  const report = JSON.parse(result.stdout);
  expect({ status: result.status, ok: report.ok }).toEqual({ status: 0, ok: true });
  return { addon: report.environment.addon, ok: report.ok };
}

describe('alexnet build from source (real builds in a temporary copy of the package)', () => {
  const copies: string[] = [];
  beforeAll(expectFreshBuild);
  afterAll(() => {
    for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
  });

  testIf(
    gypWhy,
    'without CMake on the PATH: node-gyp builds the CPU backend into build/Release, which loads and passes the doctor',
    async () => {
      const dir = packageCopy('alexnet-build-', { sources: true });
      copies.push(dir);
      const env = { ...process.env, PATH: pathWithoutCmake(dir) };
      expect(spawnSync('cmake', ['--version'], { env }).error).toBeDefined();
      const output = build(dir, env);
      expect(output).toContain(
        'alexnet build: CMake not found, building the CPU backend with node-gyp',
      );
      const addon = path.join(dir, 'build', 'Release', 'alexnet_native.node');
      expect(output).toContain(`alexnet build: ${addon}`);
      expect(doctor(dir).addon).toMatchObject({ file: addon, backends: ['cpu'] });
      // node-gyp's own build folder is removed once its addon is copied out.
      expect(fs.existsSync(path.join(dir, 'native', 'build'))).toBe(false);
    },
    600_000,
  );

  testIf(
    cmakeWhy,
    'ALEXNET_CPU_ONLY=1 with CMake and nvcc: the build leaves the CUDA backend out, loads and passes the doctor',
    async () => {
      const dir = packageCopy('alexnet-build-', { sources: true });
      copies.push(dir);
      const output = build(dir, { ...process.env, ALEXNET_CPU_ONLY: '1' });
      expect(output).toContain('skipping the CUDA backend');
      const { addon } = doctor(dir);
      expect(addon.file).toBe(path.join(dir, 'build', 'Release', 'alexnet_native.node'));
      expect(addon.backends).toEqual(['cpu']);
    },
    600_000,
  );
});
