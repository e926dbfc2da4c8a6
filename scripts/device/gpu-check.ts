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
 * (native/cuda/determinism.h); with ALEXNET_CUDNN_DETERMINISTIC=0 the repeats of convolution and
 * pooling need only agree within the op's tolerance against the CPU. The device memory held
 * through the addon must be the same after a second pass of the op checks as after the first (no
 * leak per call).
 *
 * Tolerances. Both backends compute in float32 with TF32 off (cuDNN FMA math, cuBLAS default
 * math; native/cuda/cudnn_api.h, cublas_api.h). Element-wise ops with the same operation order
 * (ReLU, dropout with the same Philox masks and float scale, bias add, augment, max-pool forward,
 * SGD: native/cuda/sgd.cu) must agree bitwise. Reductions (convolution, GEMM, bias backward) sum
 * in different orders: with inputs uniform in [-1, 1] each term is at most 1 and the float32
 * result differs from the exact sum by about 2^-24 * length / 7 per output (test/conv.test.ts),
 * so 1e-6 * length, about 100 standard deviations, is ample while a wrong index gives O(1)
 * errors. LRN goes through pow(), whose float implementations differ by a few ulps: 1e-5
 * relative. Max-pool backward sums up to four overlapping window gradients in either order: 1e-6.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AlexNet,
  augment,
  biasAdd,
  biasBackward,
  ConvPlan,
  type ConvShape,
  cudaLibraries,
  type Device,
  driverTooOld,
  dropoutBackward,
  dropoutForward,
  gemm,
  InMemoryDataset,
  type LrnOptions,
  LrnPlan,
  type MaxPoolOptions,
  MaxPoolPlan,
  Rng,
  reluBackward,
  reluForward,
  SGD,
  sgdUpdate,
  softmaxCrossEntropy,
  Tensor,
  Trainer,
  topKCorrect,
} from '../../lib';
import { native } from '../../lib/native';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Largest |cuda - reference| - (atol + rtol |reference|) over the elements; <= 0 passes. */
  excess?: number;
  /** Largest |cuda - reference|. */
  maxError?: number;
  tolerance?: string;
  /** Why the check could not run to its comparison (an exception), when it could not. */
  error?: string;
}

interface Tolerance {
  rtol: number;
  atol: number;
}

const EXACT: Tolerance = { rtol: 0, atol: 0 };
const accumulation = (length: number): Tolerance => ({ rtol: 0, atol: 1e-6 * length });

export function compare(
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
      return { name, excess: NaN, maxError: NaN, tolerance: `NaN at ${i}`, ok: false };
    }
    excess = Math.max(excess, e);
    maxError = Math.max(maxError, err);
  }
  const tolerance =
    tol.rtol === 0 && tol.atol === 0 ? 'exact' : `atol ${tol.atol} rtol ${tol.rtol}`;
  return { name, excess, maxError, tolerance, ok: excess <= 0 };
}

/** Runs `check`, turning a throw into one failed result named `name`. */
export async function guarded(
  name: string,
  check: () => CheckResult[] | Promise<CheckResult[]>,
): Promise<CheckResult[]> {
  try {
    return await check();
  } catch (error) {
    const e = error as Error;
    return [{ name, ok: false, error: `${e.name}: ${e.message}` }];
  }
}

/** Tensors made by one check, disposed when it ends, whether it passed, failed or threw. */
class Scope {
  private readonly held: { dispose(): void }[] = [];

  keep<T extends { dispose(): void }>(t: T): T {
    this.held.push(t);
    return t;
  }

  /** A CPU tensor and a copy on `device`, both holding `data`. */
  pair(data: Float32Array, shape: readonly number[], device: Device): [Tensor, Tensor] {
    return [
      this.keep(Tensor.from(data, shape, 'cpu')),
      this.keep(Tensor.from(data, shape, device)),
    ];
  }

  dispose(): void {
    for (const t of this.held.splice(0).reverse()) t.dispose();
  }
}

/** `body` with a Scope that is disposed afterwards. */
async function scoped(
  body: (scope: Scope) => CheckResult[] | Promise<CheckResult[]>,
): Promise<CheckResult[]> {
  const scope = new Scope();
  try {
    return await body(scope);
  } finally {
    scope.dispose();
  }
}

/** Whether cuDNN keeps to deterministic algorithms (ALEXNET_CUDNN_DETERMINISTIC unset or not 0). */
const deterministic = () => cudaLibraries()?.deterministic ?? true;

/**
 * Runs a device op twice: each time fills `outputs` with NaN, calls `reset` (which rewrites the
 * inputs an in-place op overwrites), then `op`. Returns the second run's outputs and a result
 * that fails unless both runs wrote bitwise the same values, or, for a cuDNN op (`cudnnTol`
 * given) when non-deterministic algorithms are allowed, values within that tolerance.
 */
function twice(
  label: string,
  outputs: Tensor[],
  reset: () => void,
  op: () => void,
  cudnnTol?: Tolerance,
): { values: Float32Array[]; repeat: CheckResult } {
  const run = () => {
    for (const t of outputs) t.fill(Number.NaN);
    reset();
    op();
    return outputs.map((t) => t.toArray());
  };
  const first = run();
  const second = run();
  const join = (arrays: Float32Array[]) => {
    const all = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of arrays) {
      all.set(a, at);
      at += a.length;
    }
    return all;
  };
  const loose = cudnnTol !== undefined && !deterministic();
  const name = `${label}: twice${loose ? ' (non-deterministic algorithms allowed)' : ''}`;
  const tol = loose ? cudnnTol : EXACT;
  return { values: second, repeat: compare(name, join(second), join(first), tol) };
}

const noReset = () => {};
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function checkConv(
  rng: Rng,
  device: Device,
  label: string,
  shape: ConvShape,
): Promise<CheckResult[]> {
  return scoped((scope) => {
    const cpuPlan = scope.keep(new ConvPlan(shape, 'cpu'));
    const gpuPlan = scope.keep(new ConvPlan(shape, device));
    const inShape = [...cpuPlan.inputShape];
    const wShape = [...cpuPlan.weightShape];
    const outShape = [...cpuPlan.outputShape];
    const [xc, xg] = scope.pair(rng.uniform(size(inShape)), inShape, device);
    const [wc, wg] = scope.pair(rng.uniform(size(wShape)), wShape, device);
    const [dyc, dyg] = scope.pair(rng.uniform(size(outShape)), outShape, device);
    const yc = scope.keep(Tensor.zeros(outShape, 'cpu'));
    const dxc = scope.keep(Tensor.zeros(inShape, 'cpu'));
    const dwc = scope.keep(Tensor.zeros(wShape, 'cpu'));
    const yg = scope.keep(Tensor.zeros(outShape, device));
    const dxg = scope.keep(Tensor.zeros(inShape, device));
    const dwg = scope.keep(Tensor.zeros(wShape, device));
    cpuPlan.forward(xc, wc, yc);
    cpuPlan.backwardData(wc, dyc, dxc);
    cpuPlan.backwardFilter(xc, dyc, dwc);
    const [k, cg, kh, kw] = wShape;
    const [n, , oh, ow] = outShape;
    const groups = shape.groups ?? 1;
    const fwd = twice(
      `${label} forward`,
      [yg],
      noReset,
      () => gpuPlan.forward(xg, wg, yg),
      accumulation(cg * kh * kw),
    );
    const bwdData = twice(
      `${label} backward data`,
      [dxg],
      noReset,
      () => gpuPlan.backwardData(wg, dyg, dxg),
      accumulation((k / groups) * kh * kw),
    );
    const bwdFilter = twice(
      `${label} backward filter`,
      [dwg],
      noReset,
      () => gpuPlan.backwardFilter(xg, dyg, dwg),
      accumulation(n * oh * ow),
    );
    return [
      fwd.repeat,
      compare(`${label} forward`, fwd.values[0], yc.toArray(), accumulation(cg * kh * kw)),
      bwdData.repeat,
      compare(
        `${label} backward data`,
        bwdData.values[0],
        dxc.toArray(),
        accumulation((k / groups) * kh * kw),
      ),
      bwdFilter.repeat,
      compare(
        `${label} backward filter`,
        bwdFilter.values[0],
        dwc.toArray(),
        accumulation(n * oh * ow),
      ),
    ];
  });
}

function checkGemm(rng: Rng, device: Device, transA: boolean, transB: boolean) {
  const label = `gemm transA=${transA} transB=${transB}`;
  return scoped((scope) => {
    const [m, n, k] = [33, 47, 129];
    const [ac, ag] = scope.pair(rng.uniform(m * k), transA ? [k, m] : [m, k], device);
    const [bc, bg] = scope.pair(rng.uniform(k * n), transB ? [n, k] : [k, n], device);
    const c0 = rng.uniform(m * n);
    const [cc, cg] = scope.pair(c0, [m, n], device);
    const options = { transA, transB, alpha: 0.5, beta: 0.25 };
    gemm(ac, bc, cc, options);
    // beta != 0 reads C: the reset puts the starting C back after the NaN fill.
    const r = twice(
      label,
      [cg],
      () => cg.write(c0),
      () => gemm(ag, bg, cg, options),
    );
    return [r.repeat, compare(label, r.values[0], cc.toArray(), accumulation(k))];
  });
}

function checkBiasRelu(rng: Rng, device: Device) {
  return scoped((scope) => {
    const shape = [4, 6, 5, 7];
    const y0 = rng.uniform(size(shape));
    const [yc, yg] = scope.pair(y0, shape, device);
    const [bc, bg] = scope.pair(rng.uniform(6), [6], device);
    const results: CheckResult[] = [];
    biasAdd(yc, bc);
    const add = twice(
      'bias forward',
      [],
      () => yg.write(y0),
      () => biasAdd(yg, bg),
    );
    results.push(add.repeat, compare('bias forward', yg.toArray(), yc.toArray(), EXACT));
    const dbc = scope.keep(Tensor.zeros([6], 'cpu'));
    const dbg = scope.keep(Tensor.zeros([6], device));
    biasBackward(yc, dbc);
    const back = twice('bias backward', [dbg], noReset, () => biasBackward(yg, dbg));
    results.push(
      back.repeat,
      compare('bias backward', back.values[0], dbc.toArray(), accumulation(4 * 5 * 7)),
    );
    const rc = scope.keep(Tensor.zeros(shape, 'cpu'));
    const rg = scope.keep(Tensor.zeros(shape, device));
    reluForward(yc, rc);
    const fwd = twice('relu forward', [rg], noReset, () => reluForward(yg, rg));
    results.push(fwd.repeat, compare('relu forward', fwd.values[0], rc.toArray(), EXACT));
    // Backward in place on the gradient, as the layers call it.
    const d0 = rng.uniform(size(shape));
    const [dc, dg] = scope.pair(d0, shape, device);
    reluBackward(rc, dc, dc);
    const bwd = twice(
      'relu backward',
      [],
      () => dg.write(d0),
      () => reluBackward(rg, dg, dg),
    );
    results.push(bwd.repeat, compare('relu backward', dg.toArray(), dc.toArray(), EXACT));
    return results;
  });
}

function checkLrn(rng: Rng, device: Device, label: string, options: LrnOptions) {
  return scoped((scope) => {
    const shape = [2, 16, 13, 13];
    const cpuLrn = scope.keep(new LrnPlan(shape, options, 'cpu'));
    const gpuLrn = scope.keep(new LrnPlan(shape, options, device));
    // Inputs of the magnitude LRN sees in AlexNet (ReLU outputs up to ~100), so that the
    // normalisation term matters.
    const [xc, xg] = scope.pair(rng.uniform(size(shape), 0, 100), shape, device);
    const [dyc, dyg] = scope.pair(rng.uniform(size(shape)), shape, device);
    const yc = scope.keep(Tensor.zeros(shape, 'cpu'));
    const dxc = scope.keep(Tensor.zeros(shape, 'cpu'));
    const yg = scope.keep(Tensor.zeros(shape, device));
    const dxg = scope.keep(Tensor.zeros(shape, device));
    cpuLrn.forward(xc, yc);
    cpuLrn.backward(xc, yc, dyc, dxc);
    const tol = { rtol: 1e-5, atol: 1e-6 };
    const fwd = twice(`${label} forward`, [yg], noReset, () => gpuLrn.forward(xg, yg));
    const bwd = twice(`${label} backward`, [dxg], noReset, () => gpuLrn.backward(xg, yg, dyg, dxg));
    return [
      fwd.repeat,
      compare(`${label} forward`, fwd.values[0], yc.toArray(), tol),
      bwd.repeat,
      compare(`${label} backward`, bwd.values[0], dxc.toArray(), tol),
    ];
  });
}

function checkPool(rng: Rng, device: Device, label: string, options: MaxPoolOptions) {
  return scoped((scope) => {
    const shape = [2, 16, 13, 13];
    const cpuPool = scope.keep(new MaxPoolPlan(shape, options, 'cpu'));
    const gpuPool = scope.keep(new MaxPoolPlan(shape, options, device));
    const outShape = [...cpuPool.outputShape];
    const [xc, xg] = scope.pair(rng.uniform(size(shape)), shape, device);
    const [dpc, dpg] = scope.pair(rng.uniform(size(outShape)), outShape, device);
    const pc = scope.keep(Tensor.zeros(outShape, 'cpu'));
    const dxc = scope.keep(Tensor.zeros(shape, 'cpu'));
    const pg = scope.keep(Tensor.zeros(outShape, device));
    const dxg = scope.keep(Tensor.zeros(shape, device));
    cpuPool.forward(xc, pc);
    cpuPool.backward(xc, pc, dpc, dxc);
    const fwd = twice(`${label} forward`, [pg], noReset, () => gpuPool.forward(xg, pg));
    const bwdTol = { rtol: 0, atol: 1e-6 };
    const bwd = twice(
      `${label} backward`,
      [dxg],
      noReset,
      () => gpuPool.backward(xg, pg, dpg, dxg),
      bwdTol,
    );
    return [
      fwd.repeat,
      compare(`${label} forward`, fwd.values[0], pc.toArray(), EXACT),
      bwd.repeat,
      compare(`${label} backward`, bwd.values[0], dxc.toArray(), bwdTol),
    ];
  });
}

/** Dropout: the same Philox masks on both backends, so bitwise equal. */
function checkDropout(rng: Rng, device: Device) {
  return scoped((scope) => {
    const n = 4099;
    const key = { p: 0.5, seed: 1234, step: 7, layer: 6 };
    const [xc, xg] = scope.pair(rng.uniform(n), [n], device);
    const yc = scope.keep(Tensor.zeros([n], 'cpu'));
    const yg = scope.keep(Tensor.zeros([n], device));
    const dxc = scope.keep(Tensor.zeros([n], 'cpu'));
    const dxg = scope.keep(Tensor.zeros([n], device));
    dropoutForward(xc, yc, key);
    dropoutBackward(yc, dxc, key);
    const fwd = twice('dropout forward', [yg], noReset, () => dropoutForward(xg, yg, key));
    const bwd = twice('dropout backward', [dxg], noReset, () => dropoutBackward(yg, dxg, key));
    return [
      fwd.repeat,
      compare('dropout forward', fwd.values[0], yc.toArray(), EXACT),
      bwd.repeat,
      compare('dropout backward', bwd.values[0], dxc.toArray(), EXACT),
    ];
  });
}

/** Softmax cross-entropy and top-k over 1000 classes. */
function checkLoss(rng: Rng, device: Device) {
  return scoped((scope) => {
    const [n, classes] = [37, 1000];
    const [zc, zg] = scope.pair(rng.uniform(n * classes, -8, 8), [n, classes], device);
    const dc = scope.keep(Tensor.zeros([n, classes], 'cpu'));
    const dg = scope.keep(Tensor.zeros([n, classes], device));
    const labels = rng.int(n, classes);
    const lossC = softmaxCrossEntropy(zc, labels, dc);
    let lossG = Number.NaN;
    const r = twice('softmax xent gradient', [dg], noReset, () => {
      lossG = softmaxCrossEntropy(zg, labels, dg);
    });
    const results = [
      compare('softmax xent loss', [lossG], [lossC], { rtol: 1e-6, atol: 0 }),
      r.repeat,
      compare('softmax xent gradient', r.values[0], dc.toArray(), { rtol: 1e-6, atol: 1e-9 }),
    ];
    for (const k of [1, 5]) {
      const counts = [topKCorrect(zg, labels, k), topKCorrect(zg, labels, k)];
      results.push(
        compare(`top-${k} count`, counts, Array(2).fill(topKCorrect(zc, labels, k)), EXACT),
      );
    }
    return results;
  });
}

/** SGD with momentum and weight decay: the same rounding on both backends, so exact. */
function checkSgd(rng: Rng, device: Device) {
  return scoped((scope) => {
    const n = 5000;
    const [w0, g0, v0] = [rng.uniform(n), rng.uniform(n), rng.uniform(n)];
    const [wc, wg] = scope.pair(w0, [n], device);
    const [gc, gg] = scope.pair(g0, [n], device);
    const [vc, vg] = scope.pair(v0, [n], device);
    const step = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
    sgdUpdate(wc, gc, vc, step);
    const r = twice(
      'sgd',
      [],
      () => {
        wg.write(w0);
        vg.write(v0);
      },
      () => sgdUpdate(wg, gg, vg, step),
    );
    return [
      r.repeat,
      compare('sgd weights', wg.toArray(), wc.toArray(), EXACT),
      compare('sgd velocity', vg.toArray(), vc.toArray(), EXACT),
    ];
  });
}

/**
 * The guarded update (the loss of the batch as `guard`): a NaN loss leaves the weights and the
 * velocity bitwise as they were, a finite one gives bitwise the unguarded update (the CPU's).
 */
function checkSgdGuard(rng: Rng, device: Device) {
  return scoped((scope) => {
    const n = 5000;
    const [w0, g0, v0] = [rng.uniform(n), rng.uniform(n), rng.uniform(n)];
    const [wc, wg] = scope.pair(w0, [n], device);
    const [gc, gg] = scope.pair(g0, [n], device);
    const [vc, vg] = scope.pair(v0, [n], device);
    const step = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
    sgdUpdate(wc, gc, vc, step);
    const nan = scope.keep(Tensor.from(new Float32Array([Number.NaN]), [1], device));
    sgdUpdate(wg, gg, vg, { ...step, guard: nan });
    const results = [
      compare('sgd guard NaN: weights unchanged', wg.toArray(), w0, EXACT),
      compare('sgd guard NaN: velocity unchanged', vg.toArray(), v0, EXACT),
    ];
    const finite = scope.keep(Tensor.from(new Float32Array([2.5]), [1], device));
    sgdUpdate(wg, gg, vg, { ...step, guard: finite });
    results.push(
      compare('sgd guard finite: weights = unguarded', wg.toArray(), wc.toArray(), EXACT),
      compare('sgd guard finite: velocity = unguarded', vg.toArray(), vc.toArray(), EXACT),
    );
    return results;
  });
}

/** Augment: crops, mirror, PCA shift, mean, scale, BGR; the same float operations, so exact. */
function checkAugment(rng: Rng, device: Device) {
  return scoped((scope) => {
    const [count, h, w, crop] = [3, 40, 44, 31];
    const images = new Uint8Array(count * h * w * 3).map(() => rng.below(256));
    const options = {
      crops: new Int32Array([0, 0, 9, 13, 4, 7]),
      mirror: new Uint8Array([0, 1, 1]),
      rgbShift: rng.uniform(3 * count, -10, 10),
      mean: [123.68, 116.78, 103.94] as [number, number, number],
      scale: [1 / 58.4, 1 / 57.1, 1 / 57.4] as [number, number, number],
      bgr: true,
    };
    const outShape = [count, 3, crop, crop];
    const oc = scope.keep(Tensor.zeros(outShape, 'cpu'));
    const og = scope.keep(Tensor.zeros(outShape, device));
    augment(images, { count, height: h, width: w }, oc, options);
    const r = twice('augment', [og], noReset, () =>
      augment(images, { count, height: h, width: w }, og, options),
    );
    return [r.repeat, compare('augment', r.values[0], oc.toArray(), EXACT)];
  });
}

/** Runs every op on `device` and on the CPU with inputs drawn from `seed`. */
export async function runOpChecks(device: Device, seed: number): Promise<CheckResult[]> {
  const rng = new Rng(seed);
  const checks: [string, () => Promise<CheckResult[]>][] = [
    // AlexNet's conv1 shape at a small batch, and a grouped, padded one (conv2-like).
    [
      'conv 11x11/4',
      () =>
        checkConv(rng, device, 'conv 11x11/4', {
          batch: 2,
          inChannels: 3,
          height: 67,
          width: 67,
          outChannels: 16,
          kernel: 11,
          stride: 4,
        }),
    ],
    [
      'conv 5x5 pad 2 groups 2',
      () =>
        checkConv(rng, device, 'conv 5x5 pad 2 groups 2', {
          batch: 3,
          inChannels: 8,
          height: 13,
          width: 13,
          outChannels: 12,
          kernel: 5,
          pad: 2,
          groups: 2,
        }),
    ],
    // Batch 4 falls in batch 3's bucket (native/cuda/conv.cc): the cached algorithms, with the
    // workspace asked for this batch.
    [
      'conv 5x5 pad 2 groups 2 batch 4',
      () =>
        checkConv(rng, device, 'conv 5x5 pad 2 groups 2 batch 4', {
          batch: 4,
          inChannels: 8,
          height: 13,
          width: 13,
          outChannels: 12,
          kernel: 5,
          pad: 2,
          groups: 2,
        }),
    ],
    ...[
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ].map(([a, b]): [string, () => Promise<CheckResult[]>] => [
      `gemm transA=${a} transB=${b}`,
      () => checkGemm(rng, device, a, b),
    ]),
    ['bias and relu', () => checkBiasRelu(rng, device)],
    // bvlc's constants, and the paper's k = 2 (DESIGN.md, Model).
    ['lrn k=1', () => checkLrn(rng, device, 'lrn k=1', { size: 5, alpha: 1e-4, beta: 0.75, k: 1 })],
    ['lrn k=2', () => checkLrn(rng, device, 'lrn k=2', { size: 5, alpha: 1e-4, beta: 0.75, k: 2 })],
    ['max-pool 3/2', () => checkPool(rng, device, 'max-pool 3/2', { kernel: 3, stride: 2 })],
    [
      'max-pool 3/2 pad 1',
      () => checkPool(rng, device, 'max-pool 3/2 pad 1', { kernel: 3, stride: 2, pad: 1 }),
    ],
    ['dropout', () => checkDropout(rng, device)],
    ['softmax xent and top-k', () => checkLoss(rng, device)],
    ['sgd', () => checkSgd(rng, device)],
    ['sgd guard', () => checkSgdGuard(rng, device)],
    ['augment', () => checkAugment(rng, device)],
  ];
  const results: CheckResult[] = [];
  for (const [name, check] of checks) results.push(...(await guarded(name, check)));
  return results;
}

/** The CPU model's parameters copied into `net`. */
function copyWeights(from: AlexNet, to: AlexNet): void {
  const source = from.parameters();
  to.parameters().forEach((p, i) => {
    p.value.write(source[i].value.toArray());
  });
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/**
 * The full-width bvlc AlexNet at batch 16, dropout 0.5 inside the network, on `device` and on the
 * CPU with the same weights and inputs: logits, one training step's loss, top-1 count and every
 * weight gradient. cuDNN picks other algorithms at these shapes than at the op checks' small
 * ones. Tolerance 1e-3 of each tensor's largest |value|: sums of up to 48,400 float32 terms (conv1
 * backward filter: 16 x 55 x 55) in different orders through eight layers, and the rare ReLU or
 * max-pool decision that flips on a near-tie moves one element's gradient; a wrong index or a
 * missing group moves them by O(1).
 */
export function runBvlcCheck(device: Device, seed: number): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const options = { preset: 'bvlc' as const, classes: 1000, inputSize: 227, dropout: 0.5, seed };
    const cpu = scope.keep(new AlexNet({ ...options, device: 'cpu' }));
    const gpu = scope.keep(new AlexNet({ ...options, device, init: 'none' }));
    copyWeights(cpu, gpu);
    const n = 16;
    const rng = new Rng(seed + 1);
    const x = rng.normal(n * 3 * 227 * 227, 1);
    const labels = rng.int(n, 1000);
    const rel = (expected: ArrayLike<number>) => ({ rtol: 0, atol: 1e-3 * maxAbs(expected) });
    const logitsC = await cpu.forward(x, n);
    const logitsG = await gpu.forward(x, n);
    const results = [compare('bvlc b16 logits vs CPU', logitsG, logitsC, rel(logitsC))];
    const step = { lr: 0.001, momentum: 0.9, weightDecay: 5e-4 };
    const optC = scope.keep(new SGD(cpu, step));
    const optG = scope.keep(new SGD(gpu, step));
    const c = await cpu.trainBatch(x, labels, n, optC);
    const g = await gpu.trainBatch(x, labels, n, optG);
    results.push(
      compare('bvlc b16 train loss (dropout) vs CPU', [g.loss], [c.loss], { rtol: 1e-4, atol: 0 }),
      compare('bvlc b16 train top-1 vs CPU', [g.correct], [c.correct], EXACT),
    );
    const gpuParams = gpu.parameters();
    cpu.parameters().forEach((p, i) => {
      const expected = p.grad.toArray();
      results.push(
        compare(
          `bvlc b16 grad ${p.name} vs CPU`,
          gpuParams[i].grad.toArray(),
          expected,
          rel(expected),
        ),
      );
    });
    return results;
  });
}

/** A small random image set of `count` images of 4 classes, for the Trainer and classify. */
function randomImages(rng: Rng, count: number, side: number) {
  return {
    images: new Uint8Array(count * side * side * 3).map(() => rng.below(256)),
    count,
    height: side,
    width: side,
    labels: rng.int(count, 4),
    classes: ['a', 'b', 'c', 'd'],
  };
}

/**
 * The model's public calls on `device` against the same model on the CPU: forward at two batch
 * sizes on one model (each layer's buffers grow for the larger and are reused for the smaller),
 * evaluate, classify, save and load from the device, and one epoch of the Trainer.
 */
export function runModelChecks(device: Device, seed: number): Promise<CheckResult[]> {
  const small = { classes: 4, inputSize: 67, widthScale: 1 / 16, seed };
  const rel = (expected: ArrayLike<number>) => ({ rtol: 0, atol: 1e-5 * maxAbs(expected) });
  const rng = new Rng(seed + 2);
  const checks: [string, () => Promise<CheckResult[]>][] = [
    [
      'two batch sizes on one model',
      () =>
        scoped(async (scope) => {
          const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
          const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
          copyWeights(cpu, gpu);
          const results: CheckResult[] = [];
          for (const n of [3, 8, 3]) {
            const x = rng.normal(n * 3 * 67 * 67, 1);
            const expected = await cpu.forward(x, n);
            results.push(
              compare(
                `forward batch ${n} vs CPU`,
                await gpu.forward(x, n),
                expected,
                rel(expected),
              ),
            );
          }
          return results;
        }),
    ],
    [
      'evaluate',
      () =>
        scoped(async (scope) => {
          const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
          const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
          copyWeights(cpu, gpu);
          const n = 9;
          const x = rng.normal(n * 3 * 67 * 67, 1);
          const labels = rng.int(n, 4);
          const c = await cpu.evaluate(x, labels, n, 2);
          const g = await gpu.evaluate(x, labels, n, 2);
          return [
            compare('evaluate loss vs CPU', [g.loss], [c.loss], { rtol: 1e-5, atol: 0 }),
            compare(
              'evaluate top-1 and top-2 counts vs CPU',
              [g.correct, g.correctTopK],
              [c.correct, c.correctTopK],
              EXACT,
            ),
          ];
        }),
    ],
    [
      'classify',
      () =>
        scoped(async (scope) => {
          const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
          const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
          copyWeights(cpu, gpu);
          const set = randomImages(rng, 3, 80);
          const pixels = 80 * 80 * 3;
          const images = [0, 1, 2].map((i) => ({
            data: set.images.subarray(i * pixels, (i + 1) * pixels),
            width: 80,
            height: 80,
          }));
          const c = await cpu.classify(images, { top: 4, workers: 0 });
          const g = await gpu.classify(images, { top: 4, workers: 0 });
          const flat = (r: typeof c, key: 'index' | 'probability') =>
            r.flatMap((x) => x.top.map((t) => t[key]));
          return [
            compare('classify classes vs CPU', flat(g, 'index'), flat(c, 'index'), EXACT),
            compare(
              'classify probabilities vs CPU',
              flat(g, 'probability'),
              flat(c, 'probability'),
              {
                rtol: 0,
                atol: 1e-5,
              },
            ),
          ];
        }),
    ],
    [
      'save and load from the device',
      () =>
        scoped(async (scope) => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-gpu-check-'));
          try {
            const gpu = scope.keep(new AlexNet({ ...small, device }));
            const file = path.join(dir, 'model.safetensors');
            await gpu.save(file);
            const again = scope.keep(await AlexNet.fromFile(file, { device }));
            const onCpu = scope.keep(await AlexNet.fromFile(file, { device: 'cpu' }));
            const x = rng.normal(2 * 3 * 67 * 67, 1);
            const expected = await gpu.forward(x, 2);
            const cpuLogits = await onCpu.forward(x, 2);
            return [
              compare('loaded on the device: logits', await again.forward(x, 2), expected, EXACT),
              compare(
                'loaded on the CPU: logits vs the device',
                cpuLogits,
                expected,
                rel(expected),
              ),
            ];
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }),
    ],
    [
      'one epoch of the Trainer',
      () =>
        scoped(async (scope) => {
          const train = randomImages(rng, 64, 72);
          const val = randomImages(rng, 16, 72);
          const normalisation = {
            mean: [127.5, 127.5, 127.5] as [number, number, number],
            scale: [1 / 73.9, 1 / 73.9, 1 / 73.9] as [number, number, number],
            bgr: false,
          };
          const run = async (on: Device) => {
            const net = scope.keep(new AlexNet({ ...small, device: on }));
            net.normalisation = normalisation;
            const data = { inputSize: 67, device: on, normalisation };
            const trainSet = scope.keep(new InMemoryDataset(train, data));
            const valSet = scope.keep(new InMemoryDataset(val, data));
            const opt = scope.keep(new SGD(net, { lr: 0.001 }));
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-gpu-trainer-'));
            try {
              const result = await new Trainer(net, opt, trainSet, valSet, {
                epochs: 1,
                batchSize: 16,
                outDir: dir,
                progress: false,
                log: () => {},
                handleSignals: false,
              }).fit();
              return { metrics: result.history[0], saved: fs.existsSync(result.checkpoint) };
            } finally {
              fs.rmSync(dir, { recursive: true, force: true });
            }
          };
          const c = await run('cpu');
          const g = await run(device);
          // Four steps from the same weights: the float32 differences of each step (1e-5 of
          // the logits, above) grow a little through the updates.
          return [
            compare('trainer epoch: checkpoint written', [Number(g.saved)], [1], EXACT),
            compare(
              'trainer epoch: train loss vs CPU',
              [g.metrics.trainLoss],
              [c.metrics.trainLoss],
              {
                rtol: 1e-3,
                atol: 0,
              },
            ),
            compare(
              'trainer epoch: val accuracy vs CPU',
              [g.metrics.valAccuracy],
              [c.metrics.valAccuracy],
              { rtol: 0, atol: 1 / 16 },
            ),
          ];
        }),
    ],
  ];
  return (async () => {
    const results: CheckResult[] = [];
    for (const [name, check] of checks) results.push(...(await guarded(name, check)));
    return results;
  })();
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
      const loss = await net.trainStep(x.data, labels, x.shape[0], opt);
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
    const gpu = native.cudaDevices?.().devices[index];
    report.gpu = gpu;
    const libs = cudaLibraries();
    console.log(`gpu-check on ${device} (${gpu?.name}), seed ${seed}`);
    console.log(`  ${libs?.cudnn}\n  ${libs?.cublas}\n  nvrtc: ${libs?.nvrtc || 'not found'}`);
    console.log(
      `  CUDA: driver ${libs?.versions.driverCuda}, runtime ${libs?.versions.runtimeCuda}`,
    );
    console.log(
      libs?.deterministic === false
        ? '  cuDNN: non-deterministic algorithms allowed (ALEXNET_CUDNN_DETERMINISTIC=0)'
        : '  cuDNN: deterministic algorithms only',
    );
    for (const line of libs?.unopened ?? []) console.log(`  did not open: ${line}`);

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
    report.algorithms = chosenAlgorithms(index);
    report.memory = native.cudaMemory?.(index);

    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results) {
      const detail = r.error
        ? r.error
        : `max error ${r.maxError?.toExponential(2)}  (${r.tolerance})`;
      console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${detail}`);
    }
    for (const a of report.algorithms as ReturnType<typeof chosenAlgorithms>) {
      const how = `math type ${a.mathType}, ${a.deterministic ? 'deterministic' : 'NON-DETERMINISTIC'}`;
      console.log(`  conv ${a.pass} [${a.shape}]: ${a.name} (workspace ${a.workspace} B, ${how})`);
    }
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
