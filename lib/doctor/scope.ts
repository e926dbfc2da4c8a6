/**
 * The machinery of a device check: a Scope that disposes the tensors a check made however it
 * ends, and twice, which runs a device op two times on outputs filled with NaN (an element the op
 * did not write fails the comparison) and asks for the same bits both times (the second run takes
 * the cached-algorithm path of the convolutions).
 */

import { cudaLibraries } from '../device';
import { type Device, Tensor } from '../tensor';
import { type CheckResult, compare, EXACT, type Tolerance } from './compare';

/** Tensors made by one check, disposed when it ends, whether it passed, failed or threw. */
export class Scope {
  private readonly held: { dispose(): void }[] = [];

  keep<T extends { dispose(): void }>(t: T): T {
    this.held.push(t);
    return t;
  }

  /** A CPU tensor and a copy on `device`, both holding `data`. */
  pair(data: Float32Array, shape: readonly number[], device: Device): [Tensor, Tensor] {
    return [
      this.keep(Tensor.from(data, shape, 'cpu')),
      this.keep(Tensor.from(data, shape, device)),
    ];
  }

  dispose(): void {
    for (const t of this.held.splice(0).reverse()) t.dispose();
  }
}

/** `body` with a Scope that is disposed afterwards. */
export async function scoped(
  body: (scope: Scope) => CheckResult[] | Promise<CheckResult[]>,
): Promise<CheckResult[]> {
  const scope = new Scope();
  try {
    return await body(scope);
  } finally {
    scope.dispose();
  }
}

/** Whether cuDNN keeps to deterministic algorithms (ALEXNET_CUDNN_DETERMINISTIC unset or not 0). */
const deterministic = () => cudaLibraries()?.deterministic ?? true;

/**
 * Runs a device op twice: each time fills `outputs` with NaN, calls `reset` (which rewrites the
 * inputs an in-place op overwrites), then `op`. Returns the second run's outputs and a result
 * that fails unless both runs wrote bitwise the same values, or, for a cuDNN op (`cudnnTol`
 * given) when non-deterministic algorithms are allowed (native/cuda/determinism.h), values within
 * that tolerance.
 */
export function twice(
  label: string,
  outputs: Tensor[],
  reset: () => void,
  op: () => void,
  cudnnTol?: Tolerance,
): { values: Float32Array[]; repeat: CheckResult } {
  const run = () => {
    for (const t of outputs) t.fill(Number.NaN);
    reset();
    op();
    return outputs.map((t) => t.toArray());
  };
  const first = run();
  const second = run();
  const join = (arrays: Float32Array[]) => {
    const all = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of arrays) {
      all.set(a, at);
      at += a.length;
    }
    return all;
  };
  const loose = cudnnTol !== undefined && !deterministic();
  const name = `${label}: twice${loose ? ' (non-deterministic algorithms allowed)' : ''}`;
  const tol = loose ? cudnnTol : EXACT;
  return { values: second, repeat: compare(name, join(second), join(first), tol) };
}

export const noReset = () => {};
export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
