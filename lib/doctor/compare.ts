/**
 * A check's result and the comparison every check makes: a device's output against the
 * reference's, element by element, under an absolute and a relative tolerance (each check says
 * why its tolerance is what it is); and guarded, which turns a check that throws into a failed
 * result, so that one broken op never ends a run of the doctor or the GPU check early.
 */

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

export interface Tolerance {
  rtol: number;
  atol: number;
}

export const EXACT: Tolerance = { rtol: 0, atol: 0 };
export const accumulation = (length: number): Tolerance => ({ rtol: 0, atol: 1e-6 * length });

/** Three significant digits, without float noise: 0.000131, not 0.00013099999999999999. */
const short = (x: number) => String(Number(x.toPrecision(3)));

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
    tol.rtol === 0 && tol.atol === 0 ? 'exact' : `atol ${short(tol.atol)} rtol ${short(tol.rtol)}`;
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

/** The largest |value| of `a`. */
export const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
  return m;
};
