/**
 * Element-wise comparison with a tolerance: |actual - expected| <= atol + rtol * |expected|.
 * On failure the message names the worst element, its index and both values.
 */

export interface Tolerance {
  rtol: number;
  atol: number;
}

/**
 * The tolerance of a float32 sum of `length` products against its float64 reference, where every
 * operand is uniform in [-1, 1], so that each product is at most 1 and the results differ only by
 * the rounding of the sum. For random signs its standard deviation is about 2^-24 * length / 7
 * (the partial sums grow like sqrt(length) / 3); 1e-6 * length is 100 standard deviations, ample
 * for the maximum over a million outputs, yet far below the O(1) error of a wrong index.
 */
export function accumulation(length: number): Tolerance {
  return { rtol: 0, atol: 1e-6 * length };
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol, atol }: Tolerance,
  what = 'values',
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} but expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; ++i) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
      if (Number.isNaN(excess)) break;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} ` +
        `(rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** Largest |x| of an array: scales an absolute tolerance to the data. */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; ++i) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/**
 * Element-wise comparison against a bound per element: |actual[i] - expected[i]| <= bound[i],
 * for references that carry their own error bound (a rounding-error analysis of the computation)
 * rather than a tolerance scaled to the data.
 */
export function expectWithinBound(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: ArrayLike<number>,
  what = 'values',
): void {
  if (actual.length !== expected.length || bound.length !== expected.length) {
    throw new Error(
      `${what}: length ${actual.length} and bound length ${bound.length} but expected ${expected.length}`,
    );
  }
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < actual.length; ++i) {
    const error = Math.abs(actual[i] - expected[i]);
    const ratio = error / bound[i];
    if (!(error <= bound[i]) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
      if (Number.isNaN(error)) break;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} ` +
        `(error ${Math.abs(actual[worst] - expected[worst])} over the bound ${bound[worst]})`,
    );
  }
}

/**
 * The largest |actual - expected| over the largest |expected|: an error relative to the output's
 * scale, for logits whose individual values may be near zero.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; ++i) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

/** A float array's bytes, so that -0 and 0 differ and NaN equals NaN. */
export function floatBits(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
