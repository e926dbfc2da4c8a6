/**
 * Finite-difference gradient checks. For an op's float64 reference forward f and a random
 * projection r, L(x) = Σ r · f(x) has the gradient dL/dx that the op's backward returns when
 * given dy = r; central differences of L estimate it independently of any backward code.
 */
import type { Rng } from './random';

/**
 * (L(x + h e_i) - L(x - h e_i)) / 2h at each index i, in float64, with L(x) = Σ r · f(x).
 * The error is O(h² f''') from truncation plus about 2^-52 Σ|r · f(x)| / h from rounding.
 */
export function centralDifferences(
  f: (x: Float64Array) => Float64Array,
  x: ArrayLike<number>,
  r: ArrayLike<number>,
  indices: readonly number[],
  h: number,
): Float64Array {
  const point = Float64Array.from(x);
  const loss = (): number => {
    const y = f(point);
    let sum = 0;
    for (let i = 0; i < y.length; ++i) sum += r[i] * y[i];
    return sum;
  };
  return Float64Array.from(indices, (index) => centralDifference(point, index, loss, h));
}

/**
 * (loss(v + h e_i) - loss(v - h e_i)) / 2h: perturbs values[index] by +-h, calls loss() at both
 * points, and restores it. For a loss linear (or affine) in the perturbed value the quotient has
 * no truncation error and h only sets the rounding, about 2^-52 |L| / h; the default h = 1e-3
 * keeps that far below any float32 tolerance.
 */
export function centralDifference(
  values: Float64Array,
  index: number,
  loss: () => number,
  h = 1e-3,
): number {
  const saved = values[index];
  values[index] = saved + h;
  const plus = loss();
  values[index] = saved - h;
  const minus = loss();
  values[index] = saved;
  return (plus - minus) / (2 * h);
}

/** Every index of [0, n) when n <= count, else `count` distinct random ones, ascending. */
export function sampleIndices(rng: Rng, n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(rng.next() * n));
  return [...picked].sort((a, b) => a - b);
}

/**
 * `n` distinct values spread evenly over [lo, hi), in random order: a shuffle (Fisher-Yates) of
 * lo + (hi - lo) (i + 0.5) / n. Any two are at least (hi - lo) / n apart, less float32 rounding,
 * and none is nearer than half that to lo or hi, so a step h below a quarter of it never
 * changes which of two values is larger, nor, with lo = -hi, the sign of any value.
 */
export function shuffledGrid(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  const out = Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.5)) / n);
  for (let i = n - 1; i > 0; --i) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
