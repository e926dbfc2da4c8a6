/**
 * The GPU check: every op of the op set on a CUDA device against the CPU backend on the same
 * random inputs (forward and backward), the full-width bvlc AlexNet at batch 16 against the CPU
 * on the same weights, the model's public calls on the device (two batch sizes, evaluate,
 * classify, save and load, one epoch of the Trainer), and three training steps of the small
 * AlexNet against PyTorch's (test/fixtures/small_alexnet, written by scripts/make_fixtures.py).
 * Runs on plain node (the GPU machine has no jest): `node dist/scripts/device/gpu-check.js
 * [--device cuda:0] [--seed N] [--json out.json]`; prints a table, always writes the JSON (with
 * the libraries' versions, the chosen convolution algorithms and each check's error), and exits
 * 0 when every check passed, 1 when one failed, 2 when there is no GPU to check.
 * test/cuda.test.ts runs the same checks under jest where a GPU is present.
 *
 * A GPU session is short and rare, so nothing here may end the run early: each check runs in its
 * own try/catch and a throw becomes `{ ok: false, error }`. Device outputs are filled with NaN
 * before each op, so an element the op did not write fails the comparison; every device op runs
 * twice and both results must be identical (the second run takes the cached-algorithm path of
 * the convolutions) while cuDNN keeps to deterministic algorithms, the default
 * (native/cuda/determinism.h), or within the op's tolerance with ALEXNET_CUDNN_DETERMINISTIC=0;
 * and the device memory held through the addon must be the same after a second
 * pass of the op checks as after the first (no leak per call). The op and model checks live in
 * lib/doctor/ (shared with `alexnet doctor`), their tolerances explained there; the check
 * against PyTorch stays here, as it reads the test fixtures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlexNet, cudaLibraries, type Device, driverTooOld, SGD } from '../../lib';
import { type CheckResult, compare, EXACT, guarded, maxAbs } from '../../lib/doctor/compare';
import { runBvlcCheck, runModelChecks } from '../../lib/doctor/model-checks';
import { runOpChecks } from '../../lib/doctor/op-checks';
import { scoped } from '../../lib/doctor/scope';
import { native } from '../../lib/native';
import { trainStep } from '../../lib/train/training-step';

interface SmallAlexNetMeta {
  sgd: { lr: number; momentum: number; weight_decay: number };
  parameters: string[];
  steps: number;
}

/**
 * Three SGD steps of the small AlexNet on `device` against PyTorch's (the fixture of
 * test/alexnet.test.ts, same tolerance: 1e-5 of each tensor's largest |value|, and for weights
 * of the largest update plus the rounding of the weights themselves).
 */
export function runNetCheck(device: Device): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    // Loaded here so that the other checks run even where the fixtures were not packed.
    const { loadFixture } = require('../../test/util/npy') as typeof import('../../test/util/npy');
    const f = loadFixture<SmallAlexNetMeta>('small_alexnet');
    const NET = 1e-5;
    const U = 2 ** -24;
    const net = scope.keep(
      new AlexNet({ device, classes: 10, inputSize: 99, widthScale: 1 / 16, dropout: 0 }),
    );
    const params = net.parameters();
    for (const p of params) p.value.write(f.tensor(p.name).data);
    const { lr, momentum, weight_decay } = f.meta.sgd;
    const opt = scope.keep(new SGD(net, { lr, momentum, weightDecay: weight_decay }));
    const x = f.tensor('x');
    const labels = f.int32('labels').data;
    const losses = f.tensor('losses').data;
    const logits = f.tensor('logits').data;
    const results = [
      compare('alexnet logits vs PyTorch', await net.forward(x.data, x.shape[0]), logits, {
        rtol: 0,
        atol: NET * maxAbs(logits),
      }),
    ];
    for (let step = 1; step <= f.meta.steps; ++step) {
      const loss = (await trainStep(net, opt, { x: x.data, labels: labels, n: x.shape[0] })).loss;
      results.push(
        compare(`alexnet step ${step} loss vs PyTorch`, [loss], [losses[step - 1]], {
          rtol: 0,
          atol: NET * 2 * maxAbs(logits),
        }),
      );
      if (step === 1) {
        for (const p of params) {
          const expected = f.tensor(`grad/${p.name}`).data;
          results.push(
            compare(`alexnet grad ${p.name} vs PyTorch`, p.grad.toArray(), expected, {
              rtol: 0,
              atol: NET * maxAbs(expected),
            }),
          );
        }
      }
      for (const p of params) {
        const expected = f.tensor(`step${step}/${p.name}`).data;
        const start = f.tensor(p.name).data;
        const update = maxAbs(expected.map((v, i) => v - start[i]));
        results.push(
          compare(`alexnet step ${step} ${p.name} vs PyTorch`, p.value.toArray(), expected, {
            rtol: 0,
            atol: NET * update + 2 * step * U * maxAbs(expected),
          }),
        );
      }
    }
    return results;
  });
}

/** Why the checks cannot run here ('' when a CUDA device, cuDNN and cuBLAS are all there). */
export function gpuUnavailable(): string {
  if (!native.cudaDevices) return 'built without CUDA';
  const { devices, error } = native.cudaDevices();
  if (devices.length === 0) {
    return `no GPU here: ${driverTooOld() || error || 'no CUDA device visible'}`;
  }
  const libs = cudaLibraries();
  if (libs && !libs.ok) return `cuDNN / cuBLAS not found: ${libs.error.split('\n')[0]}`;
  return '';
}

/** cuDNN's algorithm names by enum value (cudnn_cnn.h of cuDNN 9). */
const ALGORITHMS: Record<string, string[]> = {
  fwd: [
    'IMPLICIT_GEMM',
    'IMPLICIT_PRECOMP_GEMM',
    'GEMM',
    'DIRECT',
    'FFT',
    'FFT_TILING',
    'WINOGRAD',
    'WINOGRAD_NONFUSED',
  ],
  bwd_data: ['ALGO_0', 'ALGO_1', 'FFT', 'FFT_TILING', 'WINOGRAD', 'WINOGRAD_NONFUSED'],
  bwd_filter: ['ALGO_0', 'ALGO_1', 'FFT', 'ALGO_3', 'WINOGRAD', 'WINOGRAD_NONFUSED', 'FFT_TILING'],
};

/** The convolution algorithms cuDNN chose on cuda:`index`, with their names. */
function chosenAlgorithms(index: number) {
  return (native.cudaConvAlgorithms?.(index) ?? []).map((a) => ({
    ...a,
    name: ALGORITHMS[a.pass]?.[a.algo] ?? `#${a.algo}`,
  }));
}

/** The device, the libraries found and their versions, and the cuDNN algorithm policy. */
function printHeader(device: Device, index: number, seed: number): void {
  const gpu = native.cudaDevices?.().devices[index];
  const libs = cudaLibraries();
  console.log(`gpu-check on ${device} (${gpu?.name}), seed ${seed}`);
  console.log(`  ${libs?.cudnn}\n  ${libs?.cublas}\n  nvrtc: ${libs?.nvrtc || 'not found'}`);
  console.log(`  CUDA: driver ${libs?.versions.driverCuda}, runtime ${libs?.versions.runtimeCuda}`);
  console.log(
    libs?.deterministic === false
      ? '  cuDNN: non-deterministic algorithms allowed (ALEXNET_CUDNN_DETERMINISTIC=0)'
      : '  cuDNN: deterministic algorithms only',
  );
  for (const line of libs?.unopened ?? []) console.log(`  did not open: ${line}`);
}

/** A line per check, then the convolution algorithms cuDNN was asked to keep. */
function printResults(
  results: readonly CheckResult[],
  algorithms: ReturnType<typeof chosenAlgorithms>,
): void {
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const detail = r.error
      ? r.error
      : `max error ${r.maxError?.toExponential(2)}  (${r.tolerance})`;
    console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${detail}`);
  }
  for (const a of algorithms) {
    const how = `math type ${a.mathType}, ${a.deterministic ? 'deterministic' : 'NON-DETERMINISTIC'}`;
    console.log(`  conv ${a.pass} [${a.shape}]: ${a.name} (workspace ${a.workspace} B, ${how})`);
  }
}

/** The command line: returns the exit code (0 passed, 1 failed, 2 no GPU here). */
export async function main(args: string[]): Promise<number> {
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const device = (option('--device') ?? 'cuda:0') as Device;
  const index = Number(device.slice(5));
  const seed = Number(option('--seed') ?? 1);
  const json = option('--json');
  const report: Record<string, unknown> = { device, seed, node: process.version };
  const write = () => {
    if (json) fs.writeFileSync(path.resolve(json), `${JSON.stringify(report, null, 2)}\n`);
  };
  try {
    report.libraries = cudaLibraries();
    const why = gpuUnavailable();
    if (why !== '') {
      report.skipped = why;
      console.error(`gpu-check: SKIPPED, ${why}`);
      return 2;
    }
    report.gpu = native.cudaDevices?.().devices[index];
    printHeader(device, index, seed);

    const results: CheckResult[] = [];
    report.results = results;
    const memory = () => native.cudaMemory?.(index).allocated ?? Number.NaN;
    results.push(...(await runOpChecks(device, seed)));
    const afterFirst = memory();
    // The second pass reuses the workspace and staging the first one grew: it must hold nothing
    // more when it ends.
    const again = await runOpChecks(device, seed);
    results.push(
      compare('op checks: device memory after a second pass', [memory()], [afterFirst], EXACT),
      compare(
        'op checks: a second pass passes the same checks',
        again.map((r) => Number(r.ok)),
        results.slice(0, again.length).map((r) => Number(r.ok)),
        EXACT,
      ),
    );
    results.push(...(await guarded('bvlc b16 vs CPU', () => runBvlcCheck(device, seed))));
    results.push(...(await runModelChecks(device, seed)));
    results.push(...(await guarded('small alexnet vs PyTorch', () => runNetCheck(device))));
    const algorithms = chosenAlgorithms(index);
    report.algorithms = algorithms;
    report.memory = native.cudaMemory?.(index);

    printResults(results, algorithms);
    const failed = results.filter((r) => !r.ok);
    console.log(`${results.length - failed.length}/${results.length} checks passed`);
    return failed.length === 0 ? 0 : 1;
  } catch (error) {
    report.error = `${(error as Error).name}: ${(error as Error).message}`;
    console.error(`gpu-check: ${report.error}`);
    return 1;
  } finally {
    write();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
