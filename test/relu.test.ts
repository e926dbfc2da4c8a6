import { ArgumentError, reluBackward, reluForward, ShapeError, Tensor } from '../lib';
import { sizeOf } from '../lib/tensor';
import { expectClose } from './util/compare';
import { centralDifferences, sampleIndices } from './util/gradient';
import { Rng, testSeed } from './util/random';

// Hoisted: inside jest's sandbox, every lookup of the global Math in a hot loop is a slow
// property access (10x on the finite differences below).
const { max } = Math;

/** float64 reference: max(x, 0). */
function referenceRelu(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; ++i) y[i] = max(x[i], 0);
  return y;
}

/** float64 reference: dy where y > 0, else 0. */
function referenceReluBackward(y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(y.length);
  for (let i = 0; i < y.length; ++i) dx[i] = y[i] > 0 ? dy[i] : 0;
  return dx;
}

/**
 * Values in ±[0.05, 1) with random signs: none within 0.05 of the kink at 0, where the
 * derivative jumps and a finite difference straddling it would be meaningless.
 */
function awayFromZero(rng: Rng, n: number): Float32Array {
  return rng.uniform(n, 0.05, 1).map((v) => (rng.next() < 0.5 ? -v : v));
}

// ReLU computes max(x, 0) and selects dy or 0: no arithmetic, so every result is exact.
const exact = { rtol: 0, atol: 0 };

const seed = testSeed();

describe(`relu (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const shapes: [string, number[]][] = [
    ['tiny', [1, 1, 1, 3]],
    ['odd', [2, 3, 5, 7]],
    // Over two 64 Ki-element chunks: both threads run.
    ['relu1 (bvlc)', [2, 96, 55, 55]],
    ['relu2 (bvlc)', [2, 256, 27, 27]],
    ['fc6', [2, 4096]],
  ];

  for (const [name, shape] of shapes) {
    test(`${name} ${shape.join('x')}: forward, backward and finite differences`, () => {
      const x = Tensor.from(awayFromZero(rng, sizeOf(shape)), shape);
      const y = Tensor.zeros(shape);
      reluForward(x, y);
      const expectedY = referenceRelu(x.toArray());
      expectClose(y.toArray(), expectedY, exact, 'y');

      const r = rng.uniform(x.size);
      const dy = Tensor.from(r, shape);
      const dx = Tensor.zeros(shape);
      reluBackward(y, dy, dx);
      expectClose(dx.toArray(), referenceReluBackward(expectedY, r), exact, 'dx');

      // ReLU is linear on each side of 0 and h = 0.01 < 0.05 never crosses it, so the only error
      // is float64 rounding: 2^-52 Σ|r·y| / h < 1e-8 for these sizes.
      const indices = sampleIndices(rng, x.size, 32);
      const fd = centralDifferences(referenceRelu, x.toArray(), r, indices, 0.01);
      const dxAt = dx.toArray();
      expectClose(
        indices.map((i) => dxAt[i]),
        fd,
        { rtol: 0, atol: 1e-7 },
        'dx vs finite differences',
      );
      for (const t of [x, y, dy, dx]) t.dispose();
    });
  }

  test('runs in place: forward with y = x, backward with dx = dy', () => {
    const data = awayFromZero(rng, 2 * 3 * 4 * 5);
    const x = Tensor.from(data, [2, 3, 4, 5]);
    reluForward(x, x);
    expectClose(x.toArray(), referenceRelu(data), exact, 'y');
    const r = rng.uniform(x.size);
    const g = Tensor.from(r, x.shape);
    reluBackward(x, g, g);
    expectClose(g.toArray(), referenceReluBackward(data, r), exact, 'dx');
  });

  test('propagates NaN and maps -Infinity to 0', () => {
    const x = Tensor.from(new Float32Array([Number.NaN, -Infinity, Infinity, -0.5]), [4]);
    const y = Tensor.zeros([4]);
    reluForward(x, y);
    expect(Array.from(y.toArray())).toEqual([Number.NaN, 0, Infinity, 0]);
  });

  test('rejects mismatched shapes with the names of the tensors', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([3, 2]);
    expect(() => reluForward(a, b)).toThrow(ShapeError);
    expect(() => reluForward(a, b)).toThrow('Expected shape [2, 3] for y but received [3, 2]');
    expect(() => reluBackward(a, b, a)).toThrow('Expected shape [2, 3] for dy but received [3, 2]');
    expect(() => reluBackward(a, a, b)).toThrow('Expected shape [2, 3] for dx but received [3, 2]');
  });

  test('rejects values that are not tensors', () => {
    const a = Tensor.zeros([2]);
    expect(() => reluForward(new Float32Array(2) as unknown as Tensor, a)).toThrow(ArgumentError);
    expect(() => reluForward(new Float32Array(2) as unknown as Tensor, a)).toThrow(
      'Expected Tensor for x but received an object of type Float32Array',
    );
    expect(() => reluBackward(a, a, null as unknown as Tensor)).toThrow(
      'Expected Tensor for dx but received null',
    );
  });

  test('rejects disposed tensors', () => {
    const a = Tensor.zeros([2, 2]);
    const b = Tensor.zeros([2, 2]);
    b.dispose();
    expect(() => reluForward(a, b)).toThrow('Tensor y [2, 2] has been disposed');
    expect(() => reluBackward(b, a, a)).toThrow('Tensor y [2, 2] has been disposed');
  });
});
