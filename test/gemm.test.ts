import { gemm, ShapeError, Tensor } from '../lib';
import { expectClose } from './util/compare';
import { Rng, testSeed } from './util/random';

/** float64 reference: C = alpha op(A) op(B) + beta C, row-major. */
function referenceGemm(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; ++i) {
    for (let j = 0; j < n; ++j) {
      let sum = 0;
      for (let p = 0; p < k; ++p) {
        sum += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      }
      // beta 0 ignores C, as in BLAS: C may hold NaN (an uninitialised output).
      out[i * n + j] = alpha * sum + (beta === 0 ? 0 : beta * c[i * n + j]);
    }
  }
  return out;
}

const seed = testSeed();

describe(`gemm (seed ${seed})`, () => {
  const rng = new Rng(seed);
  // Sizes straddle every blocking edge: micro-tiles (4-12 x 8-32), MC = 144, KC = 256, the
  // small-m paths (m <= 32: dot products for A Bᵀ, B read in place for A B, with a last strip
  // under half, and over half, of NR) and the FC shapes of AlexNet at batch 2 (9216 -> 4096 is
  // covered by the model tests).
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [5, 7, 3],
    [13, 33, 17],
    [20, 100, 600],
    [32, 120, 260],
    [150, 70, 300],
    [2, 1000, 515],
    [97, 3025, 40],
    // Each thread's share of the columns spans two NC = 3072 blocks.
    [40, 6200, 30],
  ];
  for (const [m, n, k] of cases) {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      test.each([0, 0.7, 1])(`${m}x${n}x${k} transA=${transA} transB=${transB} beta=%p`, (beta) => {
        const a = rng.uniform(m * k);
        const b = rng.uniform(k * n);
        const c = beta === 0 ? new Float32Array(m * n).fill(Number.NaN) : rng.uniform(m * n);
        const alpha = 0.5 + rng.next();
        const ta = Tensor.from(a, transA ? [k, m] : [m, k]);
        const tb = Tensor.from(b, transB ? [n, k] : [k, n]);
        const tc = Tensor.from(c, [m, n]);
        gemm(ta, tb, tc, { transA, transB, alpha, beta });
        // float32 accumulation of k products of magnitude <= 1: the rounding error grows like
        // sqrt(k) * 2^-24 * |terms|; 1e-5 * k bounds it with a wide margin for k <= 515.
        expectClose(tc.toArray(), referenceGemm(a, b, c, m, n, k, transA, transB, alpha, beta), {
          rtol: 1e-5,
          atol: 1e-5 * k,
        });
        for (const t of [ta, tb, tc]) t.dispose();
      });
    }
  }

  test('rejects mismatched inner dimensions', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 5]);
    const c = Tensor.zeros([2, 5]);
    expect(() => gemm(a, b, c)).toThrow(ShapeError);
    expect(() => gemm(a, b, c)).toThrow('Expected inner dimensions to agree for gemm');
  });

  test('rejects a disposed tensor with a JS error', () => {
    const a = Tensor.zeros([2, 2]);
    a.dispose();
    expect(() => gemm(a, a, a)).toThrow('Tensor a [2, 2] has been disposed');
  });
});
