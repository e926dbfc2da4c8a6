import { ArgumentError, DisposedError, ShapeError, sgdUpdate, Tensor } from '../lib';
import { expectClose, maxAbs } from './util/compare';
import { Rng, testSeed } from './util/random';

/** float64 reference of one step of torch.optim.SGD (dampening 0, no Nesterov), in place. */
function referenceStep(
  w: Float64Array,
  g: ArrayLike<number>,
  v: Float64Array,
  lr: number,
  momentum: number,
  weightDecay: number,
): void {
  for (let i = 0; i < w.length; ++i) {
    v[i] = momentum * v[i] + (g[i] + weightDecay * w[i]);
    w[i] -= lr * v[i];
  }
}

const seed = testSeed();

describe(`sgdUpdate (seed ${seed})`, () => {
  const rng = new Rng(seed);

  // 200003 spans several ParallelFor chunks and leaves an odd tail.
  for (const n of [1, 7, 1000, 200003]) {
    test(`five steps over ${n} parameters`, () => {
      // The op receives float32 hyper-parameters; the reference uses the same values.
      const lr = Math.fround(0.001 + 0.1 * rng.next());
      const momentum = Math.fround(0.95 * rng.next());
      const weightDecay = Math.fround(0.01 * rng.next());
      const w0 = rng.uniform(n);
      const param = Tensor.from(w0, [n]);
      const velocity = Tensor.zeros([n]);
      const w = Float64Array.from(w0);
      const v = new Float64Array(n);
      for (let step = 0; step < 5; ++step) {
        const g = rng.uniform(n);
        const grad = Tensor.from(g, [n]);
        sgdUpdate(param, grad, velocity, { lr, momentum, weightDecay });
        referenceStep(w, g, v, lr, momentum, weightDecay);
        grad.dispose();
        // Each step rounds v and w to float32 (a few 2^-24 relative of terms up to max|v| and
        // max|w|), and momentum < 1 keeps old errors from growing: 1e-6 of the largest value
        // bounds five steps.
        expectClose(velocity.toArray(), v, { rtol: 1e-6, atol: 1e-6 * maxAbs(v) }, 'velocity');
        expectClose(param.toArray(), w, { rtol: 1e-6, atol: 1e-6 * maxAbs(w) }, 'param');
      }
      param.dispose();
      velocity.dispose();
    });
  }

  // The CUDA kernel rounds each product and sum on its own, in this order (native/cuda/sgd.cu),
  // and native/cpu/sgd.cc is compiled without FMA contraction to match, so that the GPU check
  // compares the two exactly. Math.fround after every operation is that float32 arithmetic; a
  // fused multiply-add, or another order, changes the last bit of some of 200003 elements.
  test('rounds each operation to float32 in the order of the CUDA kernel, exactly', () => {
    const n = 200003;
    const f = Math.fround;
    const lr = f(0.01);
    const momentum = f(0.9);
    const weightDecay = f(5e-4);
    const w = rng.uniform(n);
    const v = rng.uniform(n);
    const g = rng.uniform(n);
    const param = Tensor.from(w, [n]);
    const velocity = Tensor.from(v, [n]);
    const grad = Tensor.from(g, [n]);
    sgdUpdate(param, grad, velocity, { lr, momentum, weightDecay });
    for (let i = 0; i < n; ++i) {
      const decayed = f(g[i] + f(weightDecay * w[i]));
      v[i] = f(f(momentum * v[i]) + decayed);
      w[i] = f(w[i] - f(lr * v[i]));
    }
    expect(velocity.toArray()).toEqual(v);
    expect(param.toArray()).toEqual(w);
    for (const t of [param, grad, velocity]) t.dispose();
  });

  test('defaults to momentum 0.9 and no weight decay', () => {
    const n = 50;
    const w0 = rng.uniform(n);
    const param = Tensor.from(w0, [5, 10]);
    const velocity = Tensor.zeros([5, 10]);
    const w = Float64Array.from(w0);
    const v = new Float64Array(n);
    const lr = Math.fround(0.01);
    for (let step = 0; step < 3; ++step) {
      const g = rng.uniform(n);
      const grad = Tensor.from(g, [5, 10]);
      sgdUpdate(param, grad, velocity, { lr });
      referenceStep(w, g, v, lr, Math.fround(0.9), 0);
      grad.dispose();
    }
    // As above: float32 rounding of each step's v and w.
    expectClose(param.toArray(), w, { rtol: 1e-6, atol: 1e-6 * maxAbs(w) });
    param.dispose();
    velocity.dispose();
  });

  test('the first step from zero velocity is plain gradient descent with weight decay', () => {
    const param = Tensor.from(Float32Array.from([1, -2, 4, 0.5]), [4]);
    const grad = Tensor.from(Float32Array.from([0.5, 0.25, -1, 0]), [4]);
    const velocity = Tensor.zeros([4]);
    sgdUpdate(param, grad, velocity, { lr: 0.5, momentum: 0.9, weightDecay: 0.5 });
    // v = g + 0.5 w; w -= 0.5 v: every value is exact in binary.
    expect(Array.from(velocity.toArray())).toEqual([1, -0.75, 1, 0.25]);
    expect(Array.from(param.toArray())).toEqual([0.5, -1.625, 3.5, 0.375]);
    for (const t of [param, grad, velocity]) t.dispose();
  });

  describe('rejects bad arguments', () => {
    const param = Tensor.zeros([2, 3]);
    const grad = Tensor.zeros([2, 3]);
    const velocity = Tensor.zeros([2, 3]);
    afterAll(() => {
      for (const t of [param, grad, velocity]) t.dispose();
    });

    test.each([
      [{ lr: -1 }, 'Expected number >= 0 for lr but received -1 of type number'],
      [{ lr: Number.NaN }, 'Expected number >= 0 for lr but received NaN of type number'],
      [
        { lr: 0.1, momentum: 1.5 },
        'Expected number between 0 and 1 for momentum but received 1.5 of type number',
      ],
      [
        { lr: 0.1, weightDecay: -0.1 },
        'Expected number >= 0 for weightDecay but received -0.1 of type number',
      ],
      [{} as never, 'Expected number >= 0 for lr but received undefined of type undefined'],
    ])('step %p', (step, message) => {
      expect(() => sgdUpdate(param, grad, velocity, step)).toThrow(ArgumentError);
      expect(() => sgdUpdate(param, grad, velocity, step)).toThrow(message);
    });

    test('a missing step', () => {
      expect(() => sgdUpdate(param, grad, velocity, null as never)).toThrow(
        'Expected object for step but received null',
      );
    });

    test('mismatched shapes', () => {
      const wrong = Tensor.zeros([6]);
      expect(() => sgdUpdate(param, wrong, velocity, { lr: 0.1 })).toThrow(ShapeError);
      expect(() => sgdUpdate(param, wrong, velocity, { lr: 0.1 })).toThrow(
        'Expected shape [2, 3] for grad but received [6]',
      );
      expect(() => sgdUpdate(param, grad, wrong, { lr: 0.1 })).toThrow(
        'Expected shape [2, 3] for velocity but received [6]',
      );
      wrong.dispose();
    });

    test('a disposed tensor', () => {
      const gone = Tensor.zeros([2, 3]);
      gone.dispose();
      expect(() => sgdUpdate(param, grad, gone, { lr: 0.1 })).toThrow(DisposedError);
      expect(() => sgdUpdate(param, grad, gone, { lr: 0.1 })).toThrow(
        'Tensor velocity [2, 3] has been disposed',
      );
    });
  });
});
