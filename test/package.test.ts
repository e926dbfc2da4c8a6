/**
 * The npm package as a user gets it: `npm pack` with the prebuilt binary (npm run build:prebuilt),
 * installed into an empty folder with a PATH that holds only node, npm and sh (no cmake, g++ or
 * nvcc), then loaded there to run a forward pass on the CPU. Also what the prebuilt binary needs
 * of the machine: the glibc and libstdc++ versions its manifest states and no other library, and
 * no instruction beyond x86-64's baseline outside the GEMM kernels picked at run time.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet } from '../lib';

const ROOT = path.join(__dirname, '..');
const { PREBUILT, runtimeNeeds } = require('../scripts/prebuild.js') as {
  PREBUILT: string;
  runtimeNeeds(file: string): { glibc: string; glibcxx: string };
};
const binary = path.join(ROOT, PREBUILT);
const manifestFile = path.join(path.dirname(binary), 'manifest.json');
const objects = path.join(ROOT, 'build-prebuild', 'CMakeFiles', 'alexnet_native.dir');
const why =
  fs.existsSync(binary) && fs.existsSync(objects)
    ? ''
    : `no ${PREBUILT} and its build: npm run build:prebuilt makes them (it needs nvcc)`;

/**
 * Mnemonics of the instruction-set extensions beyond x86-64's baseline (SSE2), as objdump prints
 * them (Intel SDM vol. 2 and its CPUID feature table): every VEX/EVEX instruction (AVX, AVX2,
 * FMA, F16C, AVX-512: all start with 'v'), and the legacy-encoded ones of SSE3, SSSE3, SSE4.1,
 * SSE4.2, POPCNT, LZCNT, BMI1, BMI2, MOVBE and ADX. Not tzcnt: GCC emits `rep bsf` for
 * __builtin_ctz under generic tuning, which objdump prints as tzcnt and which runs as bsf (the
 * same result for the non-zero inputs GCC uses it on) where BMI1 is absent.
 */
const BEYOND_BASELINE = new RegExp(
  `^\\s+[0-9a-f]+:\\t(v\\w+|${[
    // SSE3
    'addsubp[sd]|hadd[ps][sd]|hsubp[sd]|lddqu|movddup|movs[hl]dup|fisttp\\w*',
    // SSSE3
    'pshufb|phadd(w|d|sw)|phsub(w|d|sw)|pabs[bwd]|palignr|pmaddubsw|pmulhrsw|psign[bwd]',
    // SSE4.1
    'blendv?p[sd]|pblend(w|vb)|dpp[sd]|extractps|insertps|pextr[bdq]|pinsr[bdq]',
    'pm(ax|in)(sb|sd|uw|ud)|pmov[sz]x\\w+|pmuldq|pmulld|ptest|round[ps][sd]|mpsadbw',
    'packusdw|pcmpeqq|phminposuw|movntdqa',
    // SSE4.2
    'pcmpgtq|pcmp[ei]str[im]|crc32\\w*',
    // POPCNT, LZCNT, BMI1 (but tzcnt), BMI2, MOVBE, ADX
    'popcnt|lzcnt|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe|adcx|adox',
  ].join('|')})\\b`,
  'gm',
);

/** Object file name to its instructions beyond the baseline, for files that have any. */
function beyondBaseline(objectDir: string): Record<string, string[]> {
  const files = (fs.readdirSync(objectDir, { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.o'),
  );
  expect(files.length).toBeGreaterThan(20);
  const found: Record<string, string[]> = {};
  for (const file of files) {
    const dump = spawnSync('objdump', ['-d', '--no-show-raw-insn', path.join(objectDir, file)], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    expect(dump.status).toBe(0);
    const mnemonics = new Set([...dump.stdout.matchAll(BEYOND_BASELINE)].map((m) => m[1]));
    if (mnemonics.size > 0) found[path.basename(file)] = [...mnemonics].sort();
  }
  return found;
}

/** The most glibc and libstdc++ the README promises: Ubuntu 22.04's (2.34, GCC 12's 3.4.30). */
function expectWithinPromise(file: string): void {
  const version = (v: string) => v.split('.').map(Number);
  const atMost = (v: string, limit: string) =>
    version(v).reduce((order, n, i) => order || n - (version(limit)[i] ?? 0), 0) <= 0;
  const needs = runtimeNeeds(file);
  expect({ ...needs, glibcOk: atMost(needs.glibc, '2.34') }).toMatchObject({ glibcOk: true });
  expect({ ...needs, glibcxxOk: atMost(needs.glibcxx, '3.4.30') }).toMatchObject({
    glibcxxOk: true,
  });
}

/**
 * The CUDA runtime is linked statically (CMakeLists.txt, CUDA::cudart_static): no libcudart in
 * the binary's NEEDED entries, and the runtime's own code inside it, which opens the driver,
 * libcuda.so.1, by name at run time.
 */
function expectStaticCudaRuntime(file: string): void {
  const dump = spawnSync('objdump', ['-p', file], { encoding: 'utf8' });
  expect(dump.status).toBe(0);
  const needed = [...dump.stdout.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]);
  expect(needed.filter((lib) => /cudart|libcuda\b/.test(lib))).toEqual([]);
  const bytes = fs.readFileSync(file);
  expect(bytes.includes('libcuda.so.1')).toBe(true);
  expect(bytes.includes('cudaErrorCudartUnloading')).toBe(true);
}

/** A folder with only node, npm and sh (npm runs scripts with it) in it, to be the whole PATH. */
function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  // npm's command is a link to its npm-cli.js, which runs under the `node` found on the PATH.
  const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  fs.symlinkSync(fs.realpathSync(npm), path.join(bin, 'npm'));
  return bin;
}

(why === '' ? describe : describe.skip)(
  `the npm package with its prebuilt binary${why && `: skipped, ${why}`}`,
  () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-package-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('installs with only node and npm on the PATH, loads with CUDA inside, and runs on the CPU', async () => {
      const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(pack.status).toBe(0);
      const [{ filename, size, files }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
      const packed = (files as { path: string }[]).map((f) => f.path);
      expect(packed).toContain(PREBUILT);
      expect(packed.filter((f) => /^(test|bench|scripts\/bench)\//.test(f))).toEqual([]);
      console.log(
        `npm pack: ${filename}, ${(size / 2 ** 20).toFixed(2)} MiB, ${packed.length} files`,
      );

      const app = path.join(dir, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "private": true }\n');
      const env = {
        HOME: process.env.HOME ?? dir,
        PATH: bareBin(dir),
        npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
      };
      for (const tool of ['cmake', 'g++', 'cc', 'nvcc', 'make']) {
        expect(spawnSync(tool, ['--version'], { env }).error).toBeDefined();
      }
      const install = spawnSync(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--foreground-scripts',
          path.join(dir, filename),
        ],
        { cwd: app, env, encoding: 'utf8' },
      );
      expect(install.stderr + install.stdout).toMatch(/using the prebuilt binary/);
      expect(install.status).toBe(0);

      const script = `
        const { AlexNet, Rng, addonInfo } = require('alexnet-cudnn');
        const net = new AlexNet({ device: 'cpu', classes: 3, inputSize: 67, widthScale: 1 / 16, seed: 4 });
        net.forward(new Rng(9).normal(2 * 3 * 67 * 67, 1), 2).then((logits) => {
          console.log(JSON.stringify({ ...addonInfo(), logits: Array.from(logits) }));
        });`;
      const runIt = spawnSync('node', ['-e', script], { cwd: app, env, encoding: 'utf8' });
      expect(runIt.stderr).toBe('');
      const result = JSON.parse(runIt.stdout);
      expect(result.backends).toEqual(['cpu', 'cuda']);
      expect(result.prebuilt).toBe(true);
      expect(result.file).toBe(
        path.join(fs.realpathSync(app), 'node_modules', 'alexnet-cudnn', PREBUILT),
      );
      expect(fs.existsSync(path.join(app, 'node_modules', 'alexnet-cudnn', 'build'))).toBe(false);

      const net = new AlexNet({
        device: 'cpu',
        classes: 3,
        inputSize: 67,
        widthScale: 1 / 16,
        seed: 4,
      });
      const { Rng } = await import('../lib');
      const here = await net.forward(new Rng(9).normal(2 * 3 * 67 * 67, 1), 2);
      await net.dispose();
      expect(result.logits).toEqual(Array.from(here));
    }, 300_000);

    test('no instruction beyond x86-64 baseline outside the GEMM kernels picked at run time', () => {
      // The prebuild's object files (the shipped binary is stripped, so it cannot be read by
      // function); BEYOND_BASELINE lists the extensions looked for.
      expect(Object.keys(beyondBaseline(objects)).sort()).toEqual([
        'gemm_kernel_avx2.cc.o',
        'gemm_kernel_avx512.cc.o',
      ]);
    });

    test('links the CUDA runtime statically', () => {
      expectStaticCudaRuntime(binary);
    });

    test('needs no newer glibc and libstdc++ than the README states, and no other library', () => {
      // The README promises glibc 2.34 and GCC 12's libstdc++ (GLIBCXX_3.4.30): Ubuntu 22.04.
      // Linking libstdc++ statically, for one, would raise glibc to 2.36 and fail this.
      const version = (v: string) => v.split('.').map(Number);
      const atMost = (v: string, limit: string) =>
        version(v).reduce((order, n, i) => order || n - (version(limit)[i] ?? 0), 0) <= 0;
      const needs = runtimeNeeds(binary);
      expect({ ...needs, glibcOk: atMost(needs.glibc, '2.34') }).toMatchObject({ glibcOk: true });
      expect({ ...needs, glibcxxOk: atMost(needs.glibcxx, '3.4.30') }).toMatchObject({
        glibcxxOk: true,
      });
      // The manifest a release ships says the same.
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      expect(needs).toEqual({ glibc: manifest.glibc, glibcxx: manifest.glibcxx });
      // The addon's own shared libraries; cuDNN, cuBLAS and the driver are opened at run time.
      const dump = spawnSync('objdump', ['-p', binary], { encoding: 'utf8' });
      const needed = [...dump.stdout.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]).sort();
      expect(needed).toEqual([
        'ld-linux-x86-64.so.2',
        'libc.so.6',
        'libgcc_s.so.1',
        'libm.so.6',
        'libstdc++.so.6',
      ]);
    });
  },
);

/**
 * The same promises of this checkout's build from source (build/Release, what `npm run build`
 * makes), which needs no nvcc: the package's code must not need a newer glibc or libstdc++, or
 * an instruction beyond the baseline outside the kernels picked at run time, whichever binary
 * it ends up in.
 */
describe('the build from source in build/Release', () => {
  const addon = path.join(ROOT, 'build', 'Release', 'alexnet_native.node');
  const sourceObjects = path.join(ROOT, 'build', 'CMakeFiles', 'alexnet_native.dir');
  beforeAll(() => {
    if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: run npm run build`);
  });

  test('addonInfo() names it as built here, with its backends', () => {
    const { addonInfo } = require('../lib') as typeof import('../lib');
    const { native } = require('../lib/native') as typeof import('../lib/native');
    const info = addonInfo();
    // ALEXNET_NATIVE_PATH points the package at another build (npm run test:asan).
    const expected = process.env.ALEXNET_NATIVE_PATH ?? addon;
    expect(info).toEqual({
      file: path.resolve(expected),
      prebuilt: false,
      backends: native.backends,
    });
    expect(info.backends[0]).toBe('cpu');
  });

  test('needs no newer glibc and libstdc++ than the README states', () => {
    expectWithinPromise(addon);
  });

  test('no instruction beyond x86-64 baseline outside the GEMM kernels picked at run time', () => {
    const found = beyondBaseline(sourceObjects);
    const kernels = ['gemm_kernel_avx2.cc.o', 'gemm_kernel_avx512.cc.o'];
    expect(Object.keys(found).filter((f) => !kernels.includes(f))).toEqual([]);
  });

  const { native } = require('../lib/native') as typeof import('../lib/native');
  const cuda = native.backends.includes('cuda');
  (cuda ? test : test.skip)(
    `links the CUDA runtime statically${cuda ? '' : ' (skipped: this build has no CUDA backend)'}`,
    () => expectStaticCudaRuntime(addon),
  );
});
