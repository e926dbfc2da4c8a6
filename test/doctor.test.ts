/**
 * `doctor()` and `alexnet doctor`: what they report, the CPU backend's checks against float64,
 * the verdict and the exit code. The GPU checks they share with scripts/device/gpu-check.ts are
 * tested in test/cuda.test.ts; here, without a GPU, the report must say there is none and still
 * pass on the CPU.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { doctor } from '../lib';
import { guarded } from '../lib/doctor/compare';
import { runCpuChecks } from '../lib/doctor/cpu-checks';
import { native } from '../lib/native';
import { Rng } from '../lib/random';
import { expectFreshBuild } from './util/built-cli';

const ROOT = path.join(__dirname, '..');
const gpus = native.cudaDevices?.().devices.length ?? 0;

test('the CPU backend passes every check against float64, and each check compares something', async () => {
  const results = await runCpuChecks(new Rng(5));
  expect(results.filter((r) => !r.ok)).toEqual([]);
  expect(results.map((r) => r.name)).toEqual([
    'cpu conv forward vs float64',
    'cpu conv backward data vs float64',
    'cpu conv backward filter vs float64',
    'cpu gemm transA=false transB=false vs float64',
    'cpu gemm transA=false transB=true vs float64',
    'cpu gemm transA=true transB=false vs float64',
    'cpu gemm transA=true transB=true vs float64',
    'cpu lrn forward vs float64',
    'cpu max-pool forward vs float64',
    'cpu softmax xent loss vs float64',
    'cpu softmax xent gradient vs float64',
  ]);
  // A float32 result never equals its float64 reference everywhere: a zero error would mean
  // the comparison saw nothing. Max-pool picks an input, so it is exact.
  for (const r of results.filter((r) => !r.name.includes('max-pool'))) {
    expect({ name: r.name, positive: (r.maxError ?? 0) > 0 }).toEqual({
      name: r.name,
      positive: true,
    });
  }
});

test('a check that throws is one failed result, so the rest still run', async () => {
  const results = await guarded('cpu conv', () => {
    throw new RangeError('bad plan');
  });
  expect(results).toEqual([{ name: 'cpu conv', ok: false, error: 'RangeError: bad plan' }]);
});

test('doctor() reports the package, the binary, the CPU and the libraries', async () => {
  const report = await doctor({ seed: 3, timeStep: false });
  const { environment } = report;
  expect(environment.package).toBe(`alexnet-cudnn ${require('../package.json').version}`);
  expect(environment.addon.backends).toEqual(native.backends);
  expect(environment.cpu).toMatchObject({ gemmKernel: native.gemmIsa, threads: native.cpuThreads });
  if (native.backends.includes('cuda')) {
    expect(environment.libraries.map((l) => l.name)).toEqual([
      'cuDNN',
      'cuBLAS',
      'cuBLASLt',
      'NCCL',
    ]);
    for (const lib of environment.libraries) expect(lib.detail).not.toBe('');
  }
  expect(report.devices[0].device).toBe('cpu');
});

(gpus === 0 ? test : test.skip)(
  `without a GPU, alexnet doctor --json says so, passes on the CPU and exits 0${gpus ? ' (skipped: a GPU is present)' : ''}`,
  () => {
    expectFreshBuild();
    const bin = path.join(ROOT, 'dist', 'scripts', 'alexnet.js');
    const started = performance.now();
    const run = spawnSync(process.execPath, [bin, 'doctor', '--json'], { encoding: 'utf8' });
    const seconds = (performance.now() - started) / 1000;
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.environment.gpus).toEqual([]);
    expect(report.environment.noGpu).not.toBe('');
    expect(report.devices.map((d: { device: string }) => d.device)).toEqual(['cpu']);
    expect(report.ok).toBe(true);
    expect(report.verdict).toMatch(/^OK: all 11 checks passed on cpu \(no GPU: /);
    // "A few seconds" on the CPU, with room for a loaded 2-core machine.
    expect(seconds).toBeLessThan(20);
  },
);
