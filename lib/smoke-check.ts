/**
 * The smoke check a GPU passes before a process trusts it (DESIGN.md, CUDA backend): one grouped,
 * padded convolution and one GEMM on the device against the CPU backend on the same seeded
 * inputs, a few milliseconds of work. It catches what the doctor's full check would report first
 * (a driver or library that computes garbage, an architecture the binary has no code for) before
 * a run trains on it. It calls the addon directly: it sits below lib/ops, at the device floor.
 *
 * Tolerance: inputs uniform in [-1, 1]; float32 sums of `length` terms in different orders differ
 * by about 2^-24 * length / 7 (test/conv.test.ts), so 1e-6 * length is ample, while a wrong
 * kernel gives O(1) errors or NaN (the outputs start as NaN, so an unwritten element fails).
 */
import { type NativeTensor, native } from './native';
import { Rng } from './random';

interface Case {
  name: string;
  /** Terms per output element, for the tolerance. */
  length: number;
  /** Runs the op on `device` and returns its output. */
  run(device: string, keep: <T extends { dispose(): void }>(t: T) => T): Float32Array;
}

function tensor(
  data: Float32Array | number,
  shape: number[],
  device: string,
  keep: <T extends { dispose(): void }>(t: T) => T,
): NativeTensor {
  const t = keep(new native.Tensor(shape, device));
  if (typeof data === 'number') t.fill(data);
  else t.write(data);
  return t;
}

function cases(rng: Rng): Case[] {
  // conv: 2 images of 4 x 9 x 9, 6 filters of 3 x 3 in 2 groups, padding 1.
  const [x, w] = [rng.uniform(2 * 4 * 9 * 9), rng.uniform(6 * 2 * 3 * 3)];
  const [m, n, k] = [33, 17, 65];
  const [a, b] = [rng.uniform(m * k), rng.uniform(k * n)];
  return [
    {
      name: 'conv forward',
      length: 2 * 3 * 3,
      run(device, keep) {
        const plan = keep(new native.ConvPlan(2, 4, 9, 9, 6, 3, 3, 1, 1, 1, 1, 2, device));
        const y = tensor(Number.NaN, [2, 6, 9, 9], device, keep);
        native.conv2dForward(
          plan,
          tensor(x, [2, 4, 9, 9], device, keep),
          tensor(w, [6, 2, 3, 3], device, keep),
          y,
        );
        return y.read();
      },
    },
    {
      name: 'gemm',
      length: k,
      run(device, keep) {
        const c = tensor(Number.NaN, [m, n], device, keep);
        native.gemm(
          tensor(a, [m, k], device, keep),
          tensor(b, [k, n], device, keep),
          c,
          false,
          false,
          m,
          n,
          k,
          1,
          0,
          null,
          false,
        );
        return c.read();
      },
    },
  ];
}

/** The first element where `actual` is off by more than the tolerance, described; '' if none. */
function firstMismatch(actual: Float32Array, expected: Float32Array, atol: number): string {
  for (let i = 0; i < expected.length; ++i) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= atol)) {
      return `element ${i} is ${actual[i]} where the CPU gives ${expected[i]}`;
    }
  }
  return '';
}

/**
 * Runs the smoke check on `device` (e.g. 'cuda:0'): '' when it passed, else one phrase naming
 * the op and what went wrong.
 */
export function gpuSmokeCheck(device: string): string {
  const held: { dispose(): void }[] = [];
  const keep = <T extends { dispose(): void }>(t: T): T => {
    held.push(t);
    return t;
  };
  try {
    for (const c of cases(new Rng(20120))) {
      let actual: Float32Array;
      try {
        actual = c.run(device, keep);
      } catch (error) {
        return `${c.name} threw ${(error as Error).message.split('\n')[0]}`;
      }
      const mismatch = firstMismatch(actual, c.run('cpu', keep), 1e-6 * c.length);
      if (mismatch) return `${c.name} disagrees with the CPU: ${mismatch}`;
    }
    return '';
  } finally {
    for (const t of held.reverse()) t.dispose();
  }
}
