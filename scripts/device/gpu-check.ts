/**
 * The GPU check: every op of the op set on a CUDA device against the CPU backend on the same
 * random inputs (forward and backward), then three training steps of the small AlexNet on the
 * device against PyTorch's (test/fixtures/small_alexnet, written by scripts/make_fixtures.py).
 * Runs on plain node (the GPU machine has no jest): `node dist/scripts/device/gpu-check.js
 * [--device cuda:0] [--seed N] [--json out.json]`; prints a table and exits 1 on a failure.
 * test/cuda.test.ts runs the same checks under jest where a GPU is present.
 *
 * Tolerances. Both backends compute in float32 with TF32 off (cuDNN FMA math, cuBLAS default
 * math; native/cuda/cudnn_api.h, cublas_api.h). Element-wise ops with the same operation order
 * (ReLU, dropout with the same Philox masks and float scale, bias add, augment, max-pool forward)
 * must agree bitwise. Reductions (convolution, GEMM, bias backward) sum in different orders:
 * with inputs uniform in [-1, 1] each term is at most 1 and the float32 result differs from the
 * exact sum by about 2^-24 * length / 7 per output (test/conv.test.ts), so 1e-6 * length, about
 * 100 standard deviations, is ample while a wrong index gives O(1) errors. LRN goes through
 * pow(), whose float implementations differ by a few ulps: 1e-5 relative. Max-pool backward sums
 * up to four overlapping window gradients in either order: 1e-6. SGD rounds each operation on its
 * own in the same order on both backends (native/cuda/sgd.cu, native/cpu/sgd.cc): exact.
 */
import * as path from 'node:path';
import {
  AlexNet,
  augment,
  biasAdd,
  biasBackward,
  ConvPlan,
  type ConvShape,
  type Device,
  dropoutBackward,
  dropoutForward,
  gemm,
  LrnPlan,
  MaxPoolPlan,
  Rng,
  reluBackward,
  reluForward,
  SGD,
  sgdUpdate,
  softmaxCrossEntropy,
  Tensor,
  topKCorrect,
} from '../../lib';
import { native } from '../../lib/native';

export interface CheckResult {
  name: string;
  /** Largest |cuda - reference| - (atol + rtol |reference|) over the elements; <= 0 passes. */
  excess: number;
  /** Largest |cuda - reference|. */
  maxError: number;
  tolerance: string;
  ok: boolean;
}

interface Tolerance {
  rtol: number;
  atol: number;
}

const EXACT: Tolerance = { rtol: 0, atol: 0 };
const accumulation = (length: number): Tolerance => ({ rtol: 0, atol: 1e-6 * length });

function compare(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
): CheckResult {
  let excess = Number.NEGATIVE_INFINITY;
  let maxError = 0;
  if (actual.length !== expected.length) {
    return { name, excess: Infinity, maxError: Infinity, tolerance: 'length', ok: false };
  }
  for (let i = 0; i < actual.length; ++i) {
    const err = Math.abs(actual[i] - expected[i]);
    const e = err - (tol.atol + tol.rtol * Math.abs(expected[i]));
    if (Number.isNaN(e)) {
      return { name, excess: NaN, maxError: NaN, tolerance: 'NaN', ok: false };
    }
    excess = Math.max(excess, e);
    maxError = Math.max(maxError, err);
  }
  const tolerance =
    tol.rtol === 0 && tol.atol === 0 ? 'exact' : `atol ${tol.atol} rtol ${tol.rtol}`;
  return { name, excess, maxError, tolerance, ok: excess <= 0 };
}

/** A CPU tensor and a copy on `device`, both holding `data`. */
function pair(data: Float32Array, shape: number[], device: Device): [Tensor, Tensor] {
  return [Tensor.from(data, shape, 'cpu'), Tensor.from(data, shape, device)];
}

function checkConv(rng: Rng, device: Device, label: string, shape: ConvShape): CheckResult[] {
  const cpuPlan = new ConvPlan(shape, 'cpu');
  const gpuPlan = new ConvPlan(shape, device);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const [xc, xg] = pair(rng.uniform(size(cpuPlan.inputShape)), [...cpuPlan.inputShape], device);
  const [wc, wg] = pair(rng.uniform(size(cpuPlan.weightShape)), [...cpuPlan.weightShape], device);
  const [dyc, dyg] = pair(rng.uniform(size(cpuPlan.outputShape)), [...cpuPlan.outputShape], device);
  const [yc, yg] = pair(
    new Float32Array(size(cpuPlan.outputShape)),
    [...cpuPlan.outputShape],
    device,
  );
  const [dxc, dxg] = pair(
    new Float32Array(size(cpuPlan.inputShape)),
    [...cpuPlan.inputShape],
    device,
  );
  const [dwc, dwg] = pair(
    new Float32Array(size(cpuPlan.weightShape)),
    [...cpuPlan.weightShape],
    device,
  );
  cpuPlan.forward(xc, wc, yc);
  gpuPlan.forward(xg, wg, yg);
  cpuPlan.backwardData(wc, dyc, dxc);
  gpuPlan.backwardData(wg, dyg, dxg);
  cpuPlan.backwardFilter(xc, dyc, dwc);
  gpuPlan.backwardFilter(xg, dyg, dwg);
  const [k, cg, kh, kw] = cpuPlan.weightShape;
  const [n, , oh, ow] = cpuPlan.outputShape;
  const groups = shape.groups ?? 1;
  const results = [
    compare(`${label} forward`, yg.toArray(), yc.toArray(), accumulation(cg * kh * kw)),
    compare(
      `${label} backward data`,
      dxg.toArray(),
      dxc.toArray(),
      accumulation((k / groups) * kh * kw),
    ),
    compare(`${label} backward filter`, dwg.toArray(), dwc.toArray(), accumulation(n * oh * ow)),
  ];
  for (const t of [xc, xg, wc, wg, dyc, dyg, yc, yg, dxc, dxg, dwc, dwg]) t.dispose();
  cpuPlan.dispose();
  gpuPlan.dispose();
  return results;
}

/** Runs every op on `device` and on the CPU with inputs drawn from `seed`. */
export function runOpChecks(device: Device, seed: number): CheckResult[] {
  const rng = new Rng(seed);
  const results: CheckResult[] = [];

  // Convolution: AlexNet's conv1 shape at a small batch, and a grouped, padded one (conv2-like).
  results.push(
    ...checkConv(rng, device, 'conv 11x11/4', {
      batch: 2,
      inChannels: 3,
      height: 67,
      width: 67,
      outChannels: 16,
      kernel: 11,
      stride: 4,
    }),
    ...checkConv(rng, device, 'conv 5x5 pad 2 groups 2', {
      batch: 3,
      inChannels: 8,
      height: 13,
      width: 13,
      outChannels: 12,
      kernel: 5,
      pad: 2,
      groups: 2,
    }),
  );

  // GEMM in the four transpose combinations of the FC layers.
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ]) {
    const [m, n, k] = [33, 47, 129];
    const aShape = transA ? [k, m] : [m, k];
    const bShape = transB ? [n, k] : [k, n];
    const [ac, ag] = pair(rng.uniform(m * k), aShape, device);
    const [bc, bg] = pair(rng.uniform(k * n), bShape, device);
    const c0 = rng.uniform(m * n);
    const [cc, cg] = pair(c0, [m, n], device);
    gemm(ac, bc, cc, { transA, transB, alpha: 0.5, beta: 0.25 });
    gemm(ag, bg, cg, { transA, transB, alpha: 0.5, beta: 0.25 });
    results.push(
      compare(
        `gemm transA=${transA} transB=${transB}`,
        cg.toArray(),
        cc.toArray(),
        accumulation(k),
      ),
    );
    for (const t of [ac, ag, bc, bg, cc, cg]) t.dispose();
  }

  // Bias and ReLU on a conv-shaped tensor (ReLU backward in place, as the layers use it).
  {
    const shape = [4, 6, 5, 7];
    const size = 4 * 6 * 5 * 7;
    const [yc, yg] = pair(rng.uniform(size), shape, device);
    const [bc, bg] = pair(rng.uniform(6), [6], device);
    biasAdd(yc, bc);
    biasAdd(yg, bg);
    results.push(compare('bias forward', yg.toArray(), yc.toArray(), EXACT));
    const [dbc, dbg] = pair(new Float32Array(6), [6], device);
    biasBackward(yc, dbc);
    biasBackward(yg, dbg);
    results.push(compare('bias backward', dbg.toArray(), dbc.toArray(), accumulation(4 * 5 * 7)));
    reluForward(yc, yc);
    reluForward(yg, yg);
    results.push(compare('relu forward', yg.toArray(), yc.toArray(), EXACT));
    const [dc, dg] = pair(rng.uniform(size), shape, device);
    reluBackward(yc, dc, dc);
    reluBackward(yg, dg, dg);
    results.push(compare('relu backward', dg.toArray(), dc.toArray(), EXACT));
    for (const t of [yc, yg, bc, bg, dbc, dbg, dc, dg]) t.dispose();
  }

  // LRN (bvlc constants) and max-pooling 3/2 on AlexNet-like maps.
  {
    const shape = [2, 16, 13, 13];
    const size = 2 * 16 * 13 * 13;
    const lrnOptions = { size: 5, alpha: 1e-4, beta: 0.75, k: 1 };
    const cpuLrn = new LrnPlan(shape, lrnOptions, 'cpu');
    const gpuLrn = new LrnPlan(shape, lrnOptions, device);
    // Inputs of the magnitude LRN sees in AlexNet (ReLU outputs up to ~100), so that the
    // normalisation term matters.
    const [xc, xg] = pair(rng.uniform(size, 0, 100), shape, device);
    const [yc, yg] = pair(new Float32Array(size), shape, device);
    const [dyc, dyg] = pair(rng.uniform(size), shape, device);
    const [dxc, dxg] = pair(new Float32Array(size), shape, device);
    cpuLrn.forward(xc, yc);
    gpuLrn.forward(xg, yg);
    results.push(compare('lrn forward', yg.toArray(), yc.toArray(), { rtol: 1e-5, atol: 1e-6 }));
    cpuLrn.backward(xc, yc, dyc, dxc);
    gpuLrn.backward(xg, yg, dyg, dxg);
    results.push(compare('lrn backward', dxg.toArray(), dxc.toArray(), { rtol: 1e-5, atol: 1e-6 }));

    const cpuPool = new MaxPoolPlan(shape, { kernel: 3, stride: 2 }, 'cpu');
    const gpuPool = new MaxPoolPlan(shape, { kernel: 3, stride: 2 }, device);
    const outShape = [...cpuPool.outputShape];
    const outSize = outShape.reduce((a, b) => a * b, 1);
    const [pc, pg] = pair(new Float32Array(outSize), outShape, device);
    const [dpc, dpg] = pair(rng.uniform(outSize), outShape, device);
    cpuPool.forward(xc, pc);
    gpuPool.forward(xg, pg);
    results.push(compare('max-pool forward', pg.toArray(), pc.toArray(), EXACT));
    cpuPool.backward(xc, pc, dpc, dxc);
    gpuPool.backward(xg, pg, dpg, dxg);
    results.push(
      compare('max-pool backward', dxg.toArray(), dxc.toArray(), { rtol: 0, atol: 1e-6 }),
    );
    for (const t of [xc, xg, yc, yg, dyc, dyg, dxc, dxg, pc, pg, dpc, dpg]) t.dispose();
    for (const p of [cpuLrn, gpuLrn, cpuPool, gpuPool]) p.dispose();
  }

  // Dropout: the same Philox masks on both backends, so bitwise equal.
  {
    const size = 4099;
    const key = { p: 0.5, seed: 1234, step: 7, layer: 6 };
    const [xc, xg] = pair(rng.uniform(size), [size], device);
    const [yc, yg] = pair(new Float32Array(size), [size], device);
    dropoutForward(xc, yc, key);
    dropoutForward(xg, yg, key);
    results.push(compare('dropout forward', yg.toArray(), yc.toArray(), EXACT));
    dropoutBackward(xc, yc, key);
    dropoutBackward(xg, yg, key);
    results.push(compare('dropout backward', yg.toArray(), yc.toArray(), EXACT));
    for (const t of [xc, xg, yc, yg]) t.dispose();
  }

  // Softmax cross-entropy and top-k over 1000 classes.
  {
    const [n, classes] = [37, 1000];
    const [zc, zg] = pair(rng.uniform(n * classes, -8, 8), [n, classes], device);
    const [dc, dg] = pair(new Float32Array(n * classes), [n, classes], device);
    const labels = rng.int(n, classes);
    const lossC = softmaxCrossEntropy(zc, labels, dc);
    const lossG = softmaxCrossEntropy(zg, labels, dg);
    results.push(compare('softmax xent loss', [lossG], [lossC], { rtol: 1e-6, atol: 0 }));
    results.push(
      compare('softmax xent gradient', dg.toArray(), dc.toArray(), { rtol: 1e-6, atol: 1e-9 }),
    );
    for (const k of [1, 5]) {
      results.push(
        compare(
          `top-${k} count`,
          [topKCorrect(zg, labels, k)],
          [topKCorrect(zc, labels, k)],
          EXACT,
        ),
      );
    }
    for (const t of [zc, zg, dc, dg]) t.dispose();
  }

  // SGD with momentum and weight decay.
  {
    const size = 5000;
    const w0 = rng.uniform(size);
    const g0 = rng.uniform(size);
    const v0 = rng.uniform(size);
    const [wc, wg] = pair(w0, [size], device);
    const [gc, gg] = pair(g0, [size], device);
    const [vc, vg] = pair(v0, [size], device);
    const step = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
    sgdUpdate(wc, gc, vc, step);
    sgdUpdate(wg, gg, vg, step);
    results.push(compare('sgd weights', wg.toArray(), wc.toArray(), EXACT));
    results.push(compare('sgd velocity', vg.toArray(), vc.toArray(), EXACT));
    for (const t of [wc, wg, gc, gg, vc, vg]) t.dispose();
  }

  // Augment: crops, mirror, PCA shift, mean, scale, BGR; the same float operations, so exact.
  {
    const [count, h, w, crop] = [3, 40, 44, 31];
    const images = new Uint8Array(count * h * w * 3).map(() => rng.below(256));
    const crops = new Int32Array([0, 0, 9, 13, 4, 7]);
    const mirror = new Uint8Array([0, 1, 1]);
    const options = {
      crops,
      mirror,
      rgbShift: rng.uniform(3 * count, -10, 10),
      mean: [123.68, 116.78, 103.94] as [number, number, number],
      scale: [1 / 58.4, 1 / 57.1, 1 / 57.4] as [number, number, number],
      bgr: true,
    };
    const outShape = [count, 3, crop, crop];
    const [oc, og] = pair(new Float32Array(count * 3 * crop * crop), outShape, device);
    augment(images, { count, height: h, width: w }, oc, options);
    augment(images, { count, height: h, width: w }, og, options);
    results.push(compare('augment', og.toArray(), oc.toArray(), EXACT));
    oc.dispose();
    og.dispose();
  }
  return results;
}

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
export function runNetCheck(device: Device): CheckResult[] {
  // Loaded here so that the op checks run even where the fixtures were not packed.
  const { loadFixture } = require('../../test/util/npy') as typeof import('../../test/util/npy');
  const f = loadFixture<SmallAlexNetMeta>('small_alexnet');
  const NET = 1e-5;
  const U = 2 ** -24;
  const maxAbs = (a: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
    return m;
  };
  const net = new AlexNet({ device, classes: 10, inputSize: 99, widthScale: 1 / 16, dropout: 0 });
  const params = net.parameters();
  for (const p of params) p.value.write(f.tensor(p.name).data);
  const { lr, momentum, weight_decay } = f.meta.sgd;
  const opt = new SGD(net, { lr, momentum, weightDecay: weight_decay });
  const x = f.tensor('x');
  const labels = f.int32('labels').data;
  const losses = f.tensor('losses').data;
  const logits = f.tensor('logits').data;
  const results = [
    compare('alexnet logits vs PyTorch', net.forward(x.data, x.shape[0]), logits, {
      rtol: 0,
      atol: NET * maxAbs(logits),
    }),
  ];
  for (let step = 1; step <= f.meta.steps; ++step) {
    const loss = net.trainStep(x.data, labels, x.shape[0], opt);
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
  opt.dispose();
  net.dispose();
  return results;
}

/** Why the checks cannot run here ('' when a CUDA device, cuDNN and cuBLAS are all there). */
export function gpuUnavailable(): string {
  if (!native.cudaDevices) return 'built without CUDA';
  const { devices, error } = native.cudaDevices();
  if (devices.length === 0) return `no GPU here: ${error || 'no CUDA device visible'}`;
  const libs = native.cudaLibraries?.();
  if (libs && !libs.ok) return `cuDNN / cuBLAS not found: ${libs.error.split('\n')[0]}`;
  return '';
}

function main(): void {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const device = (option('--device') ?? 'cuda:0') as Device;
  const seed = Number(option('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  const why = gpuUnavailable();
  if (why !== '') {
    console.error(`gpu-check: ${why}`);
    process.exit(2);
  }
  const gpu = native.cudaDevices?.().devices[Number(device.slice(5))];
  const libs = native.cudaLibraries?.();
  console.log(`gpu-check on ${device} (${gpu?.name}), seed ${seed}`);
  console.log(`  ${libs?.cudnn}\n  ${libs?.cublas}`);
  const results = [...runOpChecks(device, seed), ...runNetCheck(device)];
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    console.log(
      `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  max error ${r.maxError.toExponential(2)}  (${r.tolerance})`,
    );
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`${results.length - failed.length}/${results.length} checks passed`);
  const json = option('--json');
  if (json) {
    require('node:fs').writeFileSync(
      path.resolve(json),
      JSON.stringify({ device, gpu, seed, libraries: libs, results }, null, 2),
    );
  }
  process.exit(failed.length === 0 ? 0 : 1);
}

if (require.main === module) main();
