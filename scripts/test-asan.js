#!/usr/bin/env node
// npm run test:asan [-- jest arguments]: builds the addon's CPU backend with AddressSanitizer and
// UndefinedBehaviorSanitizer into build-asan/ (build/ is left alone), then runs jest against it.
//
// Node itself is not instrumented, so the ASan runtime must be loaded before anything else:
// LD_PRELOAD of the compiler's libasan. detect_leaks=0 because LeakSanitizer would report
// Node's and V8's own allocations that live until exit, not ours. The CUDA backend is not built
// (nvcc and ASan do not combine, and there is no GPU where this runs).

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-asan');

function run(command, args, env = process.env) {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function libasan() {
  const compiler = process.env.CXX || 'g++';
  const found = spawnSync(compiler, ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  const file = (found.stdout || '').trim();
  if (found.status !== 0 || !path.isAbsolute(file)) {
    console.error(
      `test:asan: ${compiler} does not know libasan.so; install the compiler's ASan runtime`,
    );
    process.exit(1);
  }
  return file;
}

run(process.execPath, [
  require.resolve('cmake-js/bin/cmake-js'),
  'compile',
  '--out',
  out,
  '--CDALEXNET_CPU_ONLY=ON',
  '--CDALEXNET_SANITIZE=ON',
]);
// Tests that start the CLIs run dist/, which must read ALEXNET_NATIVE_PATH too.
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
// Without arguments, the whole suite but the 8-epoch MNIST accuracy run of `npm run train`
// (test/train.test.ts): it runs the same code as the one-epoch training tests, and under ASan
// takes over half an hour on two cores.
const jestArgs =
  process.argv.length > 2 ? process.argv.slice(2) : ['-t', '^(?!.*default MNIST run)'];
run(process.execPath, [require.resolve('jest/bin/jest'), ...jestArgs], {
  ...process.env,
  ALEXNET_NATIVE_PATH: path.join(out, 'Release', 'alexnet_native.node'),
  LD_PRELOAD: libasan(),
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
  UBSAN_OPTIONS: 'print_stacktrace=1',
});
