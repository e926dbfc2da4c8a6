/**
 * Every op of the op set on a device against the CPU backend on the same seeded random inputs,
 * forward and backward (scripts/device/gpu-check.ts and `alexnet doctor` run them). Device
 * outputs are filled with NaN before each op, so an element the op did not write fails the
 * comparison, and every device op runs twice and both results must be identical.
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
import { adamUpdate } from '../ops/adam';
import { augment } from '../ops/augment';
import { biasAdd, biasBackward } from '../ops/bias';
import { ConvPlan, type ConvShape } from '../ops/conv';
import { dropoutBackward, dropoutForward } from '../ops/dropout';
import { gemm } from '../ops/gemm';
import { softmaxCrossEntropy, topKCorrect } from '../ops/loss';
import { type LrnOptions, LrnPlan } from '../ops/lrn';
import { type MaxPoolOptions, MaxPoolPlan } from '../ops/pool';
import { reluBackward, reluForward } from '../ops/relu';
import { sgdUpdate } from '../ops/sgd';
import { Rng } from '../random';
import { type Device, Tensor } from '../tensor';
import { accumulation, type CheckResult, compare, EXACT, guarded } from './compare';
import { noReset, type Scope, scoped, size, twice } from './scope';

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
    // Up to four overlapping windows' gradients summed, in either order.
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

/** Weights, gradients and velocities on both backends, and the CPU's update of them. */
function sgdCase(scope: Scope, rng: Rng, device: Device) {
  const n = 5000;
  const [w0, g0, v0] = [rng.uniform(n), rng.uniform(n), rng.uniform(n)];
  const [wc, wg] = scope.pair(w0, [n], device);
  const [gc, gg] = scope.pair(g0, [n], device);
  const [vc, vg] = scope.pair(v0, [n], device);
  const step = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
  sgdUpdate(wc, gc, vc, step);
  return { w0, v0, wc, wg, gg, vc, vg, step };
}

/** SGD with momentum and weight decay: the same rounding on both backends, so exact. */
function checkSgd(rng: Rng, device: Device) {
  return scoped((scope) => {
    const { w0, v0, wc, wg, gg, vc, vg, step } = sgdCase(scope, rng, device);
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
 * Adam and AdamW (native/cuda/adam.cu): three steps from a step count of 4, then one guarded by a
 * NaN loss that must change nothing. The same rounding on both backends, so exact.
 */
function checkAdam(rng: Rng, device: Device, decoupled: boolean) {
  return scoped((scope) => {
    const n = 5000;
    const label = decoupled ? 'adamw' : 'adam';
    const [w0, g0, m0] = [rng.uniform(n), rng.uniform(n), rng.uniform(n)];
    const v0 = rng.uniform(n).map((x) => x * x);
    const [wc, wg] = scope.pair(w0, [n], device);
    const [gc, gg] = scope.pair(g0, [n], device);
    const [mc, mg] = scope.pair(m0, [n], device);
    const [vc, vg] = scope.pair(v0, [n], device);
    const [sc, sg] = scope.pair(new Float32Array([4]), [1], device);
    const [nanC, nanG] = scope.pair(new Float32Array([Number.NaN]), [1], device);
    const step = { lr: 0.01, weightDecay: 0.05, decoupled };
    for (const [w, g, m, v, count, nan] of [
      [wc, gc, mc, vc, sc, nanC],
      [wg, gg, mg, vg, sg, nanG],
    ]) {
      for (let i = 0; i < 3; ++i) adamUpdate(w, g, m, v, count, step);
      adamUpdate(w, g, m, v, count, { ...step, guard: nan });
    }
    return [
      compare(`${label} weights`, wg.toArray(), wc.toArray(), EXACT),
      compare(`${label} exp_avg`, mg.toArray(), mc.toArray(), EXACT),
      compare(`${label} exp_avg_sq`, vg.toArray(), vc.toArray(), EXACT),
      compare(`${label} step`, sg.toArray(), [7], EXACT),
    ];
  });
}

/**
 * The guarded update (the loss of the batch as `guard`): a NaN loss leaves the weights and the
 * velocity bitwise as they were, a finite one gives bitwise the unguarded update (the CPU's).
 */
function checkSgdGuard(rng: Rng, device: Device) {
  return scoped((scope) => {
    const { w0, v0, wc, wg, gg, vc, vg, step } = sgdCase(scope, rng, device);
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
    ['adam', () => checkAdam(rng, device, false)],
    ['adamw', () => checkAdam(rng, device, true)],
    ['augment', () => checkAugment(rng, device)],
  ];
  const results: CheckResult[] = [];
  for (const [name, check] of checks) results.push(...(await guarded(name, check)));
  return results;
}
