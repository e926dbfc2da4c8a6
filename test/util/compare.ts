/**
 * Element-wise comparison with a tolerance: |actual - expected| <= atol + rtol * |expected|.
 * On failure the message names the worst element, its index and both values.
 */

export interface Tolerance {
  rtol: number;
  atol: number;
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
