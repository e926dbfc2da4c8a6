/**
 * Our ops against PyTorch: the fixtures in test/fixtures, written by scripts/make_fixtures.py
 * with PyTorch's CPU kernels (an implementation we did not write). The single-op cases hold
 * float64 references rounded to float32, so each tolerance below bounds our own float32
 * rounding. The small AlexNet case (PyTorch's float32 run, three SGD steps) is read by
 * test/alexnet.test.ts through the model itself.
 */
import {
  biasAdd,
  biasBackward,
  ConvPlan,
  type LrnOptions,
  LrnPlan,
  MaxPoolPlan,
  softmaxCrossEntropy,
  Tensor,
} from '../lib';
import { expectClose, maxAbs } from './util/compare';
import { type FixtureTensor, loadFixture } from './util/npy';

/** float32 unit roundoff. */
const U = 2 ** -24;

function tensorOf({ data, shape }: FixtureTensor<Float32Array>): Tensor {
  return Tensor.from(data, shape);
}

/**
 * Each element of `actual` is a float32 sum of at most `terms` terms (products rounded or fused);
 * `absSums` holds the sum of their absolute values. Whatever the summation order (blocked GEMM,
 * im2col, threads), |fl(s) - s| <= γ(terms + 1) · Σ|terms| with γ(n) = n·u / (1 - n·u), u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1; the +1 covers the
 * products). The float64 reference was rounded to float32 once more: + u·|s|.
 */
function expectWithinSumBound(
  actual: Float32Array,
  expected: Float32Array,
  absSums: Float32Array,
  terms: number,
  what: string,
): void {
  const gamma = ((terms + 1) * U) / (1 - (terms + 1) * U);
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < actual.length; ++i) {
    const bound = gamma * absSums[i] + U * Math.abs(expected[i]);
    const error = Math.abs(actual[i] - expected[i]);
    const ratio = error === 0 ? 0 : error / bound;
    if (!(ratio <= worstRatio)) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]} but expected ${expected[worst]}, ` +
        `${worstRatio.toPrecision(3)} times the float32 bound for a ${terms}-term sum`,
    );
  }
}

interface ConvMeta {
  stride: [number, number];
  pad: [number, number];
  groups: number;
}

function convPlanFor(
  meta: ConvMeta,
  x: FixtureTensor<Float32Array>,
  w: FixtureTensor<Float32Array>,
) {
  const [batch, inChannels, height, width] = x.shape;
  return new ConvPlan({
    batch,
    inChannels,
    height,
    width,
    outChannels: w.shape[0],
    kernel: [w.shape[2], w.shape[3]],
    stride: meta.stride,
    pad: meta.pad,
    groups: meta.groups,
  });
}

describe('conv2d against PyTorch', () => {
  test('conv_groups: groups 2, stride (2, 1), pad (2, 1): y, dx, dw, db', () => {
    const f = loadFixture<ConvMeta>('conv_groups');
    const [x, w, b, dy] = ['x', 'w', 'b', 'dy'].map((name) => f.tensor(name));
    const plan = convPlanFor(f.meta, x, w);
    expect(plan.outputShape).toEqual(f.meta.tensors.y.shape);
    expect(plan.weightShape).toEqual(w.shape);
    const [tx, tw, tb, tdy] = [x, w, b, dy].map(tensorOf);
    const y = Tensor.zeros(plan.outputShape);
    const dx = Tensor.zeros(x.shape);
    const dw = Tensor.zeros(w.shape);
    const db = Tensor.zeros(b.shape);
    plan.forward(tx, tw, y);
    biasAdd(y, tb);
    plan.backwardData(tw, tdy, dx);
    plan.backwardFilter(tx, tdy, dw);
    biasBackward(tdy, db);

    const [, cPerGroup, kh, kw] = w.shape;
    const [n, k, oh, ow] = plan.outputShape;
    const abs = (name: string) => f.tensor(`${name}_abs`).data;
    // y: (C / groups)·kh·kw products and the bias.
    expectWithinSumBound(y.toArray(), f.tensor('y').data, abs('y'), cPerGroup * kh * kw + 1, 'y');
    // dx: at most (K / groups)·kh·kw products reach one input element.
    const dxTerms = (k / f.meta.groups) * kh * kw;
    expectWithinSumBound(dx.toArray(), f.tensor('dx').data, abs('dx'), dxTerms, 'dx');
    // dw and db: one term per output position of the batch.
    expectWithinSumBound(dw.toArray(), f.tensor('dw').data, abs('dw'), n * oh * ow, 'dw');
    expectWithinSumBound(db.toArray(), f.tensor('db').data, abs('db'), n * oh * ow, 'db');
    for (const t of [tx, tw, tb, tdy, y, dx, dw, db, plan]) t.dispose();
  });

  test('conv_alexnet1: 96 filters of 3x11x11, stride 4, on 63x63', () => {
    const f = loadFixture<ConvMeta>('conv_alexnet1');
    const [x, w, b] = ['x', 'w', 'b'].map((name) => f.tensor(name));
    const plan = convPlanFor(f.meta, x, w);
    expect(plan.outputShape).toEqual([1, 96, 14, 14]);
    const [tx, tw, tb] = [x, w, b].map(tensorOf);
    const y = Tensor.zeros(plan.outputShape);
    plan.forward(tx, tw, y);
    biasAdd(y, tb);
    // 3·11·11 = 363 products and the bias.
    expectWithinSumBound(y.toArray(), f.tensor('y').data, f.tensor('y_abs').data, 364, 'y');
    for (const t of [tx, tw, tb, y, plan]) t.dispose();
  });
});

describe('LRN against PyTorch', () => {
  const f = loadFixture<{ variants: Record<string, LrnOptions> }>('lrn');
  test.each(Object.entries(f.meta.variants))('%s: %o', (variant, params) => {
    const [x, dy, y, dx] = ['x', 'dy', 'y', 'dx'].map((name) => f.tensor(`${variant}/${name}`));
    const plan = new LrnPlan(x.shape, params);
    const [tx, tdy] = [x, dy].map(tensorOf);
    const ty = Tensor.zeros(x.shape);
    const tdx = Tensor.zeros(x.shape);
    plan.forward(tx, ty);
    plan.backward(tx, ty, tdy, tdx);
    // y = x·s^-β, s = k + α/n·Σ x² over 5 channels: about 10 roundings in float32 (the 5-term
    // sum of positive squares, the scaling, pow, the product, the stored reference), each
    // relative; 32u leaves room for pow computed as exp(-β·log s).
    expectClose(ty.toArray(), y.data, { rtol: 32 * U, atol: 0 }, 'y');
    // dx = dy·s^-β - (2αβ/n)·x·Σ dy·y/s: the two terms can cancel, so the bound is absolute,
    // 32u of their magnitudes. s >= k >= 1, so |first| <= max|dy|, |second| <= max|dx| +
    // max|dy|.
    expectClose(
      tdx.toArray(),
      dx.data,
      { rtol: 32 * U, atol: 32 * U * (2 * maxAbs(dy.data) + maxAbs(dx.data)) },
      'dx',
    );
    for (const t of [tx, tdy, ty, tdx, plan]) t.dispose();
  });
});

describe('max-pool against PyTorch', () => {
  test('maxpool: kernel 3, stride 2 (overlapping), no ties', () => {
    const f = loadFixture<{ kernel: number; stride: number; pad: number }>('maxpool');
    const [x, dy, y, dx] = ['x', 'dy', 'y', 'dx'].map((name) => f.tensor(name));
    const { kernel, stride, pad } = f.meta;
    const plan = new MaxPoolPlan(x.shape, { kernel, stride, pad });
    expect(plan.outputShape).toEqual(y.shape);
    const [tx, tdy] = [x, dy].map(tensorOf);
    const ty = Tensor.zeros(plan.outputShape);
    const tdx = Tensor.zeros(x.shape);
    plan.forward(tx, ty);
    plan.backward(tx, ty, tdy, tdx);
    // Selecting a maximum does no arithmetic: y is exact.
    expect(ty.toArray()).toEqual(y.data);
    // With stride 2 < kernel 3 an input can win up to 2 x 2 windows: a sum of at most 4 dy,
    // within γ(4)·Σ|dy| <= 4u·4·max|dy| (see expectWithinSumBound).
    expectClose(tdx.toArray(), dx.data, { rtol: U, atol: 4 * U * 4 * maxAbs(dy.data) }, 'dx');
    for (const t of [tx, tdy, ty, tdx, plan]) t.dispose();
  });
});

describe('softmax cross-entropy against PyTorch', () => {
  test('softmax_xent: logits up to ±30', () => {
    const f = loadFixture('softmax_xent');
    const logits = f.tensor('logits');
    const [n, classes] = logits.shape;
    const tlogits = tensorOf(logits);
    const tdlogits = Tensor.zeros(logits.shape);
    const loss = softmaxCrossEntropy(tlogits, f.int32('labels').data, tdlogits);
    // Largest spread of a row's logits: rounding z - max(z) costs up to u·R absolutely, which
    // exp turns into a relative error of the probabilities, and log back into an absolute error
    // of the loss; both sides of the softmax (numerator and normaliser) carry it.
    let spread = 0;
    for (let i = 0; i < n; ++i) {
      const row = logits.data.subarray(i * classes, (i + 1) * classes);
      spread = Math.max(spread, Math.max(...row) - Math.min(...row));
    }
    const relative = (2 * spread + 16) * U;
    expectClose([loss], f.tensor('loss').data, { rtol: 4 * U, atol: relative }, 'loss');
    // dlogits = (p - onehot) / n: relative error of p; where p is near 1, p - 1 cancels and
    // only the absolute error relative·p / n is left.
    expectClose(
      tdlogits.toArray(),
      f.tensor('dlogits').data,
      { rtol: relative, atol: relative / n },
      'dlogits',
    );
    tlogits.dispose();
    tdlogits.dispose();
  });
});
