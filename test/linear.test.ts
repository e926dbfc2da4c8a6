/**
 * The fully connected layer (lib/nn/linear.ts: y = x Wᵀ + b through our GEMM) against a float64
 * reference, and its backward against central finite differences of L = Σ r · y, at a small
 * shape and at AlexNet's real fc6 (9216 -> 4096), fc7 and fc8 with non-zero random weights.
 */
import { Linear } from '../lib/nn/linear';
import { Tensor } from '../lib/tensor';
import { expectClose } from './util/compare';
import { sampleIndices } from './util/gradient';
import { Rng, testSeed } from './util/random';

/** float64 y[n, o] = Σ_i x[n, i] W[o, i] + b[o], for the rows of `rows` only. */
function referenceForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  inF: number,
  outF: number,
  rows: readonly number[],
): Float64Array {
  const y = new Float64Array(rows.length * outF);
  rows.forEach((n, r) => {
    for (let o = 0; o < outF; ++o) {
      let sum = b[o];
      for (let i = 0; i < inF; ++i) sum += x[n * inF + i] * w[o * inF + i];
      y[r * outF + o] = sum;
    }
  });
  return y;
}

/** float64 dx = r W and db = Σ_n r, whole. */
function referenceInputAndBiasGrads(c: Case): { dx: Float64Array; db: Float64Array } {
  const { w, r, batch, inF, outF } = c;
  const dx = new Float64Array(batch * inF);
  const db = new Float64Array(outF);
  for (let n = 0; n < batch; ++n) {
    for (let o = 0; o < outF; ++o) {
      const g = r[n * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; ++i) dx[n * inF + i] += g * w[o * inF + i];
    }
  }
  return { dx, db };
}

/** float64 rows `units` of dW = rᵀ x (each row: one output unit, all its inputs). */
function referenceWeightGradRows(c: Case, units: readonly number[]): Float64Array {
  const { x, r, batch, inF, outF } = c;
  const dw = new Float64Array(units.length * inF);
  units.forEach((o, row) => {
    for (let n = 0; n < batch; ++n) {
      const g = r[n * outF + o];
      for (let i = 0; i < inF; ++i) dw[row * inF + i] += g * x[n * inF + i];
    }
  });
  return dw;
}

interface Case {
  x: Float64Array;
  w: Float64Array;
  b: Float64Array;
  r: Float64Array;
  batch: number;
  inF: number;
  outF: number;
}

/**
 * L = Σ_{n,o} r[n, o] y[n, o], summed over the outputs that `variable[index]` reaches (x[n, i]
 * reaches row n; W[o, i] and b[o] reach column o): the other terms do not depend on it, so they
 * cancel exactly in L(v + h) - L(v - h). Summing only these keeps the 9216 x 4096 difference
 * quotients at one row (38 M products) instead of the whole output.
 */
function lossReached(c: Case, variable: 'x' | 'w' | 'b', index: number): number {
  const { x, w, b, r, batch, inF, outF } = c;
  let loss = 0;
  if (variable === 'x') {
    const n = Math.floor(index / inF);
    const y = referenceForward(x, w, b, inF, outF, [n]);
    for (let o = 0; o < outF; ++o) loss += r[n * outF + o] * y[o];
    return loss;
  }
  const o = variable === 'w' ? Math.floor(index / inF) : index;
  for (let n = 0; n < batch; ++n) {
    let sum = b[o];
    for (let i = 0; i < inF; ++i) sum += x[n * inF + i] * w[o * inF + i];
    loss += r[n * outF + o] * sum;
  }
  return loss;
}

/**
 * L is linear in each variable, so the quotient has no truncation error; h = 0.5 keeps the
 * rounding error, about 2^-52 Σ|r y| / h, below 1e-9 for these sizes.
 */
function finiteDifference(c: Case, variable: 'x' | 'w' | 'b', index: number): number {
  const h = 0.5;
  const values = c[variable];
  const saved = values[index];
  values[index] = saved + h;
  const plus = lossReached(c, variable, index);
  values[index] = saved - h;
  const minus = lossReached(c, variable, index);
  values[index] = saved;
  return (plus - minus) / (2 * h);
}

/**
 * Uniform [-1, 1] operands: a float32 sum of `length` products differs from float64 by rounding
 * whose standard deviation is about 2^-24 length / 7 (as in conv.test.ts); 1e-6 length is about
 * 100 of those.
 */
const sumOf = (length: number) => ({ rtol: 0, atol: 1e-6 * length });

const seed = testSeed();

describe(`fully connected layer (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const shapes: [string, number, number, number][] = [
    ['small', 3, 7, 5],
    ['fc6 (bvlc)', 2, 9216, 4096],
    ['odd', 3, 301, 203],
  ];

  for (const [name, batch, inF, outF] of shapes) {
    test(`${name} ${inF} -> ${outF} at batch ${batch}: forward, backward, finite differences`, () => {
      const layer = new Linear('fc', inF, outF, [batch, inF], 'cpu');
      const x32 = rng.uniform(batch * inF);
      const r32 = rng.uniform(batch * outF);
      layer.weight.value.write(rng.uniform(outF * inF));
      layer.bias.value.write(rng.uniform(outF));
      const c: Case = {
        x: Float64Array.from(x32),
        w: Float64Array.from(layer.weight.value.toArray()),
        b: Float64Array.from(layer.bias.value.toArray()),
        r: Float64Array.from(r32),
        batch,
        inF,
        outF,
      };
      const x = Tensor.from(x32, [batch, inF]);
      const dy = Tensor.from(r32, [batch, outF]);
      const rows = Array.from({ length: batch }, (_, n) => n);
      expectClose(
        layer.forward(x).toArray(),
        referenceForward(c.x, c.w, c.b, inF, outF, rows),
        sumOf(inF),
        'y',
      );

      const dx = layer.backward(dy, true)!.toArray();
      const dw = layer.weight.grad.toArray();
      const db = layer.bias.grad.toArray();
      const expected = referenceInputAndBiasGrads(c);
      expectClose(dx, expected.dx, sumOf(outF), 'dx');
      expectClose(db, expected.db, sumOf(batch), 'db');
      // dW in whole rows for 64 random output units: at fc6 all 38 M entries would take most of
      // this test's time in the comparison alone, and every unit runs the same GEMM code path
      // (the sampled rows fall in different cache blocks and micro-kernel tiles).
      const units = sampleIndices(rng, outF, 64);
      expectClose(
        units.flatMap((o) => Array.from(dw.subarray(o * inF, (o + 1) * inF))),
        referenceWeightGradRows(c, units),
        sumOf(batch),
        'dW rows',
      );
      // Sampled entries of each gradient against the difference quotients: dx sums over the
      // outputs, dW and db over the batch.
      const check = (
        variable: 'x' | 'w' | 'b',
        got: Float32Array,
        count: number,
        length: number,
      ) => {
        const indices = sampleIndices(rng, got.length, count);
        expectClose(
          indices.map((i) => got[i]),
          indices.map((i) => finiteDifference(c, variable, i)),
          sumOf(length),
          `d${variable} vs finite differences`,
        );
      };
      // A few dx entries at full size: each quotient costs two passes over W's row products.
      check('x', dx, inF * outF > 1e6 ? 4 : 32, outF);
      check('w', dw, 32, batch);
      check('b', db, 32, batch);
      for (const t of [x, dy]) t.dispose();
      layer.dispose();
    }, 60_000);
  }
});
