/**
 * The forward epilogue (lib/ops/epilogue.ts: bias, then ReLU, applied by the convolution's and
 * the GEMM's threads to each block of the output) and its backward (reluBiasBackward): the same
 * bits as the separate ops they replace, biasAdd then reluForward, and reluBackward then
 * biasBackward, which test/bias.test.ts, test/relu.test.ts, test/conv.test.ts and
 * test/gemm.test.ts check against float64 references. The shapes reach every path of the native
 * GEMM that can apply it: the packed convolution with one image per GEMM and with several, with
 * groups; row dot products (at most 32 rows, Bᵀ), B read in place (at most 32 rows, B), columns
 * split between the threads, and rows split between them.
 */
import {
  biasAdd,
  biasBackward,
  ConvPlan,
  type ConvShape,
  gemm,
  reluBackward,
  reluBiasBackward,
  reluForward,
  Tensor,
} from '../lib';
import { Rng, testSeed } from './util/random';

/** A tensor's contents as bits, so that -0 and 0 differ and NaN equals NaN. */
function bits(t: Tensor): number[] {
  return Array.from(new Uint32Array(t.toArray().buffer));
}

const epilogues = [
  { name: 'bias', bias: true, relu: false },
  { name: 'ReLU', bias: false, relu: true },
  { name: 'bias and ReLU', bias: true, relu: true },
];

const seed = testSeed();

describe(`forward epilogue (seed ${seed})`, () => {
  const rng = new Rng(seed);

  const convs: [string, ConvShape][] = [
    // 441 positions: two images per GEMM, then one.
    [
      'several images per GEMM',
      { batch: 3, inChannels: 3, height: 23, width: 23, outChannels: 8, kernel: 3 },
    ],
    // 729 positions: one image per GEMM, written straight into y.
    [
      'one image per GEMM, groups',
      {
        batch: 2,
        inChannels: 4,
        height: 27,
        width: 27,
        outChannels: 6,
        kernel: 5,
        pad: 2,
        groups: 2,
      },
    ],
    [
      'stride 4, AlexNet conv1-like',
      { batch: 1, inChannels: 3, height: 35, width: 35, outChannels: 5, kernel: 11, stride: 4 },
    ],
  ];
  for (const [name, shape] of convs) {
    for (const e of epilogues) {
      test(`conv forward with ${e.name}, ${name}: the bits of the separate ops`, () => {
        const plan = new ConvPlan(shape);
        const x = Tensor.from(rng.uniform(sizeOf(plan.inputShape)), plan.inputShape);
        const w = Tensor.from(rng.uniform(sizeOf(plan.weightShape)), plan.weightShape);
        const b = Tensor.from(rng.uniform(shape.outChannels), [shape.outChannels]);
        const [fused, separate] = [Tensor.zeros(plan.outputShape), Tensor.zeros(plan.outputShape)];
        fused.fill(Number.NaN);
        plan.forward(x, w, fused, { bias: e.bias ? b : undefined, relu: e.relu });
        plan.forward(x, w, separate);
        if (e.bias) biasAdd(separate, b);
        if (e.relu) reluForward(separate, separate);
        expect(bits(fused)).toEqual(bits(separate));
        // Half of the outputs are negative before the ReLU: the comparison covers both sides.
        if (e.relu) expect(fused.toArray().filter((v) => v === 0).length).toBeGreaterThan(0);
        for (const t of [x, w, b, fused, separate]) t.dispose();
        plan.dispose();
      });
    }
  }

  const products: [string, number, number, number, boolean][] = [
    ['row dot products (1 row, Bᵀ)', 1, 37, 19, true],
    ['row dot products (32 rows, Bᵀ)', 32, 70, 45, true],
    ['B in place (5 rows, B)', 5, 37, 100, false],
    ['columns split (40 rows, Bᵀ)', 40, 300, 200, true],
    ['rows split (90 rows, 19 columns)', 90, 37, 19, true],
  ];
  for (const [name, m, k, n, transB] of products) {
    for (const e of epilogues) {
      test(`gemm with ${e.name}, ${name}: the bits of the separate ops`, () => {
        const a = Tensor.from(rng.uniform(m * k), [m, k]);
        const bShape = transB ? [n, k] : [k, n];
        const b = Tensor.from(rng.uniform(k * n), bShape);
        const bias = Tensor.from(rng.uniform(n), [n]);
        const [fused, separate] = [Tensor.zeros([m, n]), Tensor.zeros([m, n])];
        fused.fill(Number.NaN);
        gemm(a, b, fused, { transB, epilogue: { bias: e.bias ? bias : undefined, relu: e.relu } });
        gemm(a, b, separate, { transB });
        if (e.bias) biasAdd(separate, bias);
        if (e.relu) reluForward(separate, separate);
        expect(bits(fused)).toEqual(bits(separate));
        for (const t of [a, b, bias, fused, separate]) t.dispose();
      });
    }
  }

  for (const shape of [
    [3, 6, 5, 7],
    [33, 10],
    [1, 4096],
  ]) {
    for (const withDb of [true, false]) {
      test(`reluBiasBackward on [${shape.join(', ')}]${withDb ? '' : ' without db'}: the bits of reluBackward then biasBackward`, () => {
        const size = sizeOf(shape);
        const y = Tensor.from(rng.uniform(size), shape);
        reluForward(y, y);
        const dyData = rng.uniform(size);
        const [fused, separate] = [Tensor.from(dyData, shape), Tensor.from(dyData, shape)];
        const [dbFused, dbSeparate] = [Tensor.zeros([shape[1]]), Tensor.zeros([shape[1]])];
        dbFused.fill(Number.NaN);
        reluBiasBackward(y, fused, withDb ? dbFused : undefined);
        reluBackward(y, separate, separate);
        biasBackward(separate, dbSeparate);
        expect(bits(fused)).toEqual(bits(separate));
        if (withDb) expect(bits(dbFused)).toEqual(bits(dbSeparate));
        else expect(dbFused.toArray().every(Number.isNaN)).toBe(true);
        for (const t of [y, fused, separate, dbFused, dbSeparate]) t.dispose();
      });
    }
  }

  test('rejects a bias of the wrong shape and a relu that is not a boolean', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 3]);
    const c = Tensor.zeros([2, 4]);
    const bias = Tensor.zeros([3]);
    expect(() => gemm(a, b, c, { transB: true, epilogue: { bias } })).toThrow(
      'Expected shape [4] for epilogue.bias but received [3]',
    );
    expect(() =>
      gemm(a, b, c, { transB: true, epilogue: { relu: 1 as unknown as boolean } }),
    ).toThrow('Expected boolean for epilogue.relu but received 1 of type number');
    for (const t of [a, b, c, bias]) t.dispose();
  });
});

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
