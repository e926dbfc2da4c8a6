/**
 * Central finite differences for gradient checks: dL/dv[i] ~ (L(v + h e_i) - L(v - h e_i)) / 2h,
 * evaluated in float64.
 */
import type { Rng } from './random';

/**
 * The ops checked with it are linear (or affine) in the perturbed variable, so the difference
 * quotient has no truncation error and h only sets the rounding: about 1e-16 |L| / h, which at
 * h = 1e-3 stays far below any float32 tolerance.
 */
const step = 1e-3;

/** Perturbs values[index] by +-h, calls loss() at both points, and restores it. */
export function centralDifference(values: Float64Array, index: number, loss: () => number): number {
  const saved = values[index];
  values[index] = saved + step;
  const plus = loss();
  values[index] = saved - step;
  const minus = loss();
  values[index] = saved;
  return (plus - minus) / (2 * step);
}

/** `count` distinct indices below `size` in increasing order, or all of them if size <= count. */
export function sampleIndices(rng: Rng, size: number, count: number): number[] {
  if (size <= count) return Array.from({ length: size }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(rng.next() * size));
  return [...picked].sort((a, b) => a - b);
}
