import { ArgumentError, DisposedError, ShapeError, sgdUpdate, Tensor } from '../lib';
import { expectWithinBound } from './util/compare';
import { Rng, testSeed } from './util/random';

/**
 * float64 reference of torch.optim.SGD (dampening 0, no Nesterov), in place, with a bound on how
 * far the op's float32 result can be from it, element by element.
 *
 * The op computes, rounding each operation to float32 (native/cpu/sgd.cc, native/cuda/sgd.cu):
 * a = wd * w, d = g + a, mv = m * v, v' = mv + d, s = lr * v', w' = w - s. Rounding to nearest
 * moves a result x by at most u |x| + eta, u = 2^-24 (float32's unit roundoff; 2^-53 more for the
 * float64 reference's own rounding of the same operation) and eta = 2^-150 (half float32's
 * smallest subnormal, the most an underflow can lose). An error e already in an input carries into
 * the result scaled by the other factor (wd e, m e, lr e) or added (sums), and the result's own
 * rounding is at most u (|x| + e), where |x| + e bounds the computed magnitude. Summing these
 * terms along the way bounds the error whatever the inputs, so the check holds for every seed.
 * A bound from the final values alone does not: w can start near 0.5 and be cancelled by the
 * updates down to 0.002, leaving the rounding errors of the 0.5-sized terms in a 0.002 result.
 */
class SgdReference {
  readonly w: Float64Array;
  readonly v: Float64Array;
  /** Bounds on |op's w - w| and |op's v - v|. */
  readonly wBound: Float64Array;
  readonly vBound: Float64Array;

  constructor(w0: ArrayLike<number>) {
    this.w = Float64Array.from(w0);
    this.v = new Float64Array(w0.length);
    this.wBound = new Float64Array(w0.length);
    this.vBound = new Float64Array(w0.length);
  }

  step(g: ArrayLike<number>, lr: number, momentum: number, weightDecay: number): void {
    const u = 2 ** -24 + 2 ** -53;
    const eta = 2 ** -150;
    const round = (x: number, carried: number) => carried + u * (Math.abs(x) + carried) + eta;
    const { w, v, wBound, vBound } = this;
    for (let i = 0; i < w.length; ++i) {
      const a = weightDecay * w[i];
      const aBound = round(a, weightDecay * wBound[i]);
      const d = g[i] + a;
      const dBound = round(d, aBound);
      const mv = momentum * v[i];
      const mvBound = round(mv, momentum * vBound[i]);
      v[i] = mv + d;
      vBound[i] = round(v[i], mvBound + dBound);
      const s = lr * v[i];
      const sBound = round(s, lr * vBound[i]);
      w[i] -= s;
      wBound[i] = round(w[i], wBound[i] + sBound);
    }
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
      const reference = new SgdReference(w0);
      for (let step = 0; step < 5; ++step) {
        const g = rng.uniform(n);
        const grad = Tensor.from(g, [n]);
        sgdUpdate(param, grad, velocity, { lr, momentum, weightDecay });
        reference.step(g, lr, momentum, weightDecay);
        grad.dispose();
        // The rounding-error bound of each element, summed along the way (SgdReference).
        const { v, w, vBound, wBound } = reference;
        expectWithinBound(velocity.toArray(), v, vBound, 'velocity');
        expectWithinBound(param.toArray(), w, wBound, 'param');
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
    const reference = new SgdReference(w0);
    const lr = Math.fround(0.01);
    for (let step = 0; step < 3; ++step) {
      const g = rng.uniform(n);
      const grad = Tensor.from(g, [5, 10]);
      sgdUpdate(param, grad, velocity, { lr });
      reference.step(g, lr, Math.fround(0.9), 0);
      grad.dispose();
    }
    // The rounding-error bound of each element, summed along the way (SgdReference).
    expectWithinBound(velocity.toArray(), reference.v, reference.vBound, 'velocity');
    expectWithinBound(param.toArray(), reference.w, reference.wBound, 'param');
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
