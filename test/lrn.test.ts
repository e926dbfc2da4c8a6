import {
  ArgumentError,
  DisposedError,
  type LrnOptions,
  LrnPlan,
  type MaxPoolOptions,
  MaxPoolPlan,
  ShapeError,
  Tensor,
} from '../lib';
import { native } from '../lib/native';
import { sizeOf } from '../lib/tensor';
import { expectClose, floatBits, maxAbs } from './util/compare';
import { centralDifferences, sampleIndices } from './util/gradient';
import { Rng, testSeed } from './util/random';

type Shape = readonly [number, number, number, number];
type Constants = Required<LrnOptions>;

/**
 * float64 reference of the scale k + (alpha / size) Σ x² over the window of `size` channels
 * centred on each one, clipped to [0, C) (Caffe's lrn_layer, cuDNN's cudnnLRNCrossChannel).
 * Each window is summed directly, not as the running sum the kernel keeps.
 */
function referenceScale(x: ArrayLike<number>, [n, c, h, w]: Shape, p: Constants): Float64Array {
  const hw = h * w;
  const half = (p.size - 1) / 2;
  const scale = new Float64Array(n * c * hw);
  for (let img = 0; img < n; ++img) {
    for (let ch = 0; ch < c; ++ch) {
      const lo = Math.max(0, ch - half);
      const hi = Math.min(c - 1, ch + half);
      const out = (img * c + ch) * hw;
      for (let j = 0; j < hw; ++j) {
        let sum = 0;
        for (let other = lo; other <= hi; ++other) {
          const v = x[(img * c + other) * hw + j];
          sum += v * v;
        }
        scale[out + j] = p.k + (p.alpha / p.size) * sum;
      }
    }
  }
  return scale;
}

/** float64 reference forward: y = x * scale^(-beta). */
function referenceLrn(x: ArrayLike<number>, shape: Shape, p: Constants): Float64Array {
  const scale = referenceScale(x, shape, p);
  const y = new Float64Array(scale.length);
  for (let i = 0; i < y.length; ++i) y[i] = x[i] * scale[i] ** -p.beta;
  return y;
}

/**
 * float64 reference backward, the formula of native/cpu/lrn.h:
 * dx_c = dy_c scale_c^(-beta) - (2 alpha beta / size) x_c Σ_{c' in window of c} dy_c' y_c' / scale_c'.
 * The finite differences below check this formula as well as the kernel.
 */
function referenceLrnBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  [n, c, h, w]: Shape,
  p: Constants,
): Float64Array {
  const scale = referenceScale(x, [n, c, h, w], p);
  const ratio = new Float64Array(scale.length);
  const dx = new Float64Array(scale.length);
  for (let i = 0; i < scale.length; ++i) {
    const power = scale[i] ** -p.beta;
    ratio[i] = (dy[i] * x[i] * power) / scale[i];
    dx[i] = dy[i] * power;
  }
  const hw = h * w;
  const half = (p.size - 1) / 2;
  const coefficient = (2 * p.alpha * p.beta) / p.size;
  for (let img = 0; img < n; ++img) {
    for (let ch = 0; ch < c; ++ch) {
      const lo = Math.max(0, ch - half);
      const hi = Math.min(c - 1, ch + half);
      const at = (img * c + ch) * hw;
      for (let j = 0; j < hw; ++j) {
        let sum = 0;
        for (let other = lo; other <= hi; ++other) sum += ratio[(img * c + other) * hw + j];
        dx[at + j] -= coefficient * x[at + j] * sum;
      }
    }
  }
  return dx;
}

// Forward: the kernel sums each window's squares in float32, size - 1 additions of non-negative
// terms, so the scale is off by at most about size ulp (size 15, beta 0.75: 6.7e-7 of y at
// worst, typically far less); scale^(-beta) costs a few roundings more (two sqrt and a division,
// or one powf) and y one: measured at most 2.1e-7 of |y| in these cases, 3.4e-7 with size 15 and
// k = 1e-5. y = 0 only where x = 0, exactly, so no atol.
const forwardTolerance = { rtol: 1e-6, atol: 0 };

/**
 * Backward: each of the two terms of dx carries a few float32 roundings, but they can cancel, so
 * the error is bounded relative to the largest gradient rather than to each element (measured:
 * at most 2.7e-7 of it). The finite differences add O(h²) truncation, up to about 1e-6 of the
 * largest gradient with alpha = 1 and h = 1e-3 of the input range, and 2^-52 Σ|r·y| / h of
 * rounding, below 1e-8 here. 1e-5 covers both with a margin, far below the cross-channel term
 * (0.16 to 2.3 of the largest gradient in these cases) that a wrong window would change.
 */
function backwardTolerance(expected: ArrayLike<number>) {
  return { rtol: 1e-5, atol: 1e-5 * maxAbs(expected) };
}

interface Case {
  name: string;
  shape: Shape;
  options: Constants;
  /** Inputs are uniform in [-range, range). */
  range: number;
  /** How many indices get a finite difference (all of them when the tensor is smaller). */
  differences: number;
}

const bvlc = { size: 5, alpha: 1e-4, beta: 0.75, k: 1 };
const paper = { ...bvlc, k: 2 };

const cases: Case[] = [
  // alpha = 1 with inputs up to 2 puts (alpha / size) Σ x² near 1, so the cross-channel term of
  // the gradient is as large as the diagonal one, not a small correction to it.
  {
    name: 'cross-channel terms dominant',
    shape: [1, 7, 3, 4],
    options: { size: 5, alpha: 1, beta: 0.75, k: 1 },
    range: 2,
    differences: Infinity,
  },
  {
    name: 'window wider than the channels, powf path (beta 0.6)',
    shape: [2, 3, 2, 2],
    options: { size: 5, alpha: 0.5, beta: 0.6, k: 1 },
    range: 2,
    differences: Infinity,
  },
  {
    name: 'size 1 (no neighbours), beta 2',
    shape: [1, 4, 3, 3],
    options: { size: 1, alpha: 1, beta: 2, k: 0.5 },
    range: 1,
    differences: Infinity,
  },
  {
    name: 'size 15, the largest',
    shape: [1, 20, 2, 3],
    options: { size: 15, alpha: 1, beta: 0.75, k: 1 },
    range: 1,
    differences: Infinity,
  },
  // 17 x 19 = 323 positions: two runs of the kernel (176 + 147 positions) per image.
  {
    name: 'two spatial blocks per image, beta 1.5',
    shape: [2, 6, 17, 19],
    options: { size: 3, alpha: 1, beta: 1.5, k: 1 },
    range: 1,
    differences: 200,
  },
  // AlexNet's LRN layers at batch 2. Inputs up to 100, the size of conv1 / conv2 outputs on
  // 0-255 images, so that (alpha / size) Σ x² is about 0.3 and the normalisation matters.
  {
    name: 'LRN1 (bvlc)',
    shape: [2, 96, 55, 55],
    options: bvlc,
    range: 100,
    differences: 8,
  },
  {
    name: 'LRN1 (paper)',
    shape: [2, 96, 55, 55],
    options: paper,
    range: 100,
    differences: 8,
  },
  {
    name: 'LRN2 (bvlc)',
    shape: [2, 256, 27, 27],
    options: bvlc,
    range: 100,
    differences: 8,
  },
  {
    name: 'LRN2 (paper)',
    shape: [2, 256, 27, 27],
    options: paper,
    range: 100,
    differences: 8,
  },
];

const seed = testSeed();

describe(`lrn (seed ${seed})`, () => {
  const rng = new Rng(seed);

  for (const { name, shape, options, range, differences } of cases) {
    const { size, alpha, beta, k } = options;
    test(`${name}: ${shape.join('x')} size ${size} alpha ${alpha} beta ${beta} k ${k}`, () => {
      const plan = new LrnPlan(shape, options);
      const xData = rng.uniform(sizeOf(shape), -range, range);
      const x = Tensor.from(xData, shape);
      const y = Tensor.zeros(shape);
      plan.forward(x, y);
      expectClose(y.toArray(), referenceLrn(xData, shape, options), forwardTolerance, 'y');

      const r = rng.uniform(x.size);
      const dy = Tensor.from(r, shape);
      const dx = Tensor.zeros(shape);
      plan.backward(x, y, dy, dx);
      const dxData = dx.toArray();
      const expected = referenceLrnBackward(xData, r, shape, options);
      const tolerance = backwardTolerance(expected);
      expectClose(dxData, expected, tolerance, 'dx');

      const indices = sampleIndices(rng, x.size, differences);
      const fd = centralDifferences(
        (point) => referenceLrn(point, shape, options),
        xData,
        r,
        indices,
        1e-3 * range,
      );
      expectClose(
        indices.map((i) => dxData[i]),
        fd,
        tolerance,
        'dx vs finite differences',
      );
      for (const t of [x, y, dy, dx]) t.dispose();
      plan.dispose();
    });
  }

  test('the backward may write dx over dy or over y', () => {
    const shape = [2, 5, 3, 3] as const;
    const options = { size: 3, alpha: 1, beta: 0.75, k: 1 };
    const plan = new LrnPlan(shape, options);
    const xData = rng.uniform(sizeOf(shape), -2, 2);
    const r = rng.uniform(sizeOf(shape));
    const x = Tensor.from(xData, shape);
    const y = Tensor.zeros(shape);
    plan.forward(x, y);
    const expected = referenceLrnBackward(xData, r, shape, options);
    const dy = Tensor.from(r, shape);
    plan.backward(x, y, dy, dy);
    expectClose(dy.toArray(), expected, backwardTolerance(expected), 'dx over dy');
    dy.write(r);
    plan.backward(x, y, dy, y);
    expectClose(y.toArray(), expected, backwardTolerance(expected), 'dx over y');
  });

  // AlexNet's norm1 + pool1 and norm2 + pool2 at batch 2 (the pooling's row kernels); planes of
  // 4900 positions, over one LRN run of 4096, with another pooling (the scan); the powf path.
  const pooledCases: [number[], LrnOptions, MaxPoolOptions][] = [
    [[2, 96, 55, 55], { size: 5, alpha: 1e-4, beta: 0.75, k: 1 }, {}],
    [[2, 256, 27, 27], { size: 5, alpha: 1e-4, beta: 0.75, k: 1 }, {}],
    [[1, 6, 70, 70], { size: 3, alpha: 1, beta: 0.75, k: 1 }, { kernel: 2, stride: 2, pad: 1 }],
    [[1, 9, 13, 13], { size: 7, alpha: 2, beta: 0.6, k: 2 }, {}],
  ];
  for (const [shape, options, poolOptions] of pooledCases) {
    test(`forwardPooled ${shape.join('x')} size ${options.size} beta ${options.beta}, pool ${JSON.stringify(poolOptions)}: forward then the pooling, bit for bit`, () => {
      const plan = new LrnPlan(shape, options);
      const pool = new MaxPoolPlan(shape, poolOptions);
      // Zeros of both signs among the inputs: the pooling's ties and -0 must come out the same.
      const xData = rng.uniform(sizeOf(shape), -3, 3).map((v, i) => (i % 11 === 0 ? -0 : v));
      const x = Tensor.from(xData, shape);
      const normalised = Tensor.zeros(shape);
      const separate = Tensor.zeros(pool.outputShape);
      const fused = Tensor.zeros(pool.outputShape);
      plan.forward(x, normalised);
      pool.forward(normalised, separate);
      plan.forwardPooled(x, pool, fused);
      expect(floatBits(fused.toArray())).toEqual(floatBits(separate.toArray()));
      for (const t of [x, normalised, separate, fused]) t.dispose();
      plan.dispose();
      pool.dispose();
    });
  }

  test('forwardPooled rejects a pooling of another shape, a y of the wrong shape and a disposed pooling', () => {
    const plan = new LrnPlan([1, 4, 7, 7]);
    const pool = new MaxPoolPlan([1, 4, 7, 7]);
    const other = new MaxPoolPlan([1, 4, 7, 9]);
    const x = Tensor.zeros([1, 4, 7, 7]);
    const y = Tensor.zeros([1, 4, 3, 3]);
    expect(() => plan.forwardPooled(x, other, y)).toThrow(ShapeError);
    expect(() => plan.forwardPooled(x, other, y)).toThrow(
      'Expected a MaxPoolPlan of input shape [1, 4, 7, 7] for pool but received [1, 4, 7, 9]',
    );
    expect(() => plan.forwardPooled(x, pool, x)).toThrow(
      'Expected shape [1, 4, 3, 3] for y but received [1, 4, 7, 7]',
    );
    pool.dispose();
    expect(() => plan.forwardPooled(x, pool, y)).toThrow(DisposedError);
    expect(() => plan.forwardPooled(x, pool, y)).toThrow(
      'MaxPoolPlan [1, 4, 7, 7] has been disposed',
    );
  });

  test('fills in the defaults: size 5, alpha 1e-4, beta 0.75, k 1', () => {
    const plan = new LrnPlan([1, 2, 3, 4]);
    expect(plan.options).toEqual({ size: 5, alpha: 1e-4, beta: 0.75, k: 1 });
    expect(plan.shape).toEqual([1, 2, 3, 4]);
    expect(plan.device).toBe('cpu');
  });

  test('rejects invalid shapes and options with exact messages', () => {
    const make = (shape: unknown, options?: unknown, device?: unknown) => () =>
      new LrnPlan(shape as number[], options as LrnOptions, device as 'cpu');
    expect(make([2, 3, 4])).toThrow(ArgumentError);
    expect(make([2, 3, 4])).toThrow(
      'Expected array of 4 sizes [n, c, h, w] for shape but received [2, 3, 4]',
    );
    expect(make([2, 0, 4, 4])).toThrow(
      'Expected positive integer for shape[1] but received 0 of type number',
    );
    for (const size of [4, 0, 17, 2.5]) {
      expect(make([1, 8, 2, 2], { size })).toThrow(
        `Expected odd integer between 1 and 15 for size but received ${size} of type number`,
      );
    }
    expect(make([1, 8, 2, 2], { size: '5' })).toThrow(
      "Expected odd integer between 1 and 15 for size but received '5' of type string",
    );
    expect(make([1, 8, 2, 2], { alpha: -1 })).toThrow(
      'Expected number >= 0 for alpha but received -1 of type number',
    );
    expect(make([1, 8, 2, 2], { alpha: Number.NaN })).toThrow(
      'Expected number >= 0 for alpha but received NaN of type number',
    );
    expect(make([1, 8, 2, 2], { beta: 0.001 })).toThrow(
      'Expected number >= 0.01 for beta but received 0.001 of type number',
    );
    expect(make([1, 8, 2, 2], { k: 0 })).toThrow(
      'Expected number >= 0.00001 for k but received 0 of type number',
    );
    expect(make([1, 8, 2, 2], null)).toThrow('Expected object for options but received null');
    expect(make([1, 8, 2, 2], {}, 'gpu')).toThrow(
      "Expected 'cpu' or 'cuda:N' for device but received 'gpu' of type string",
    );
  });

  test('rejects tensors of the wrong shape, non-tensors and aliasing that would corrupt dx', () => {
    const plan = new LrnPlan([1, 4, 3, 3]);
    const a = Tensor.zeros([1, 4, 3, 3]);
    const b = Tensor.zeros([1, 4, 3, 3]);
    const wrong = Tensor.zeros([1, 4, 3, 2]);
    expect(() => plan.forward(a, wrong)).toThrow(ShapeError);
    expect(() => plan.forward(a, wrong)).toThrow(
      'Expected shape [1, 4, 3, 3] for y but received [1, 4, 3, 2]',
    );
    expect(() => plan.backward(a, b, wrong, b)).toThrow(
      'Expected shape [1, 4, 3, 3] for dy but received [1, 4, 3, 2]',
    );
    expect(() => plan.forward([0] as unknown as Tensor, b)).toThrow(
      'Expected Tensor for x but received [0]',
    );
    expect(() => plan.forward(a, a)).toThrow('Expected a tensor other than x for y but received x');
    expect(() => plan.backward(a, b, b, a)).toThrow(
      'Expected a tensor other than x for dx but received x',
    );
  });

  test('rejects disposed tensors and use after dispose', () => {
    const plan = new LrnPlan([1, 2, 3, 3]);
    const a = Tensor.zeros([1, 2, 3, 3]);
    const b = Tensor.zeros([1, 2, 3, 3]);
    b.dispose();
    expect(() => plan.forward(a, b)).toThrow('Tensor y [1, 2, 3, 3] has been disposed');
    plan.dispose();
    plan.dispose();
    expect(plan.disposed).toBe(true);
    expect(() => plan.forward(a, a)).toThrow(DisposedError);
    expect(() => plan.backward(a, a, a, a)).toThrow('LrnPlan [1, 2, 3, 3] has been disposed');
  });

  test('the native entry points refuse a disposed or foreign plan', () => {
    const raw = new native.LrnPlan(1, 1, 1, 1, 1, 1, 1, 1, 'cpu');
    const t = Tensor.zeros([1, 1, 1, 1]);
    raw.dispose();
    expect(() => native.lrnForward(raw, t.handle, t.handle)).toThrow('LrnPlan has been disposed');
    const pool = new native.PoolPlan(1, 1, 1, 1, 1, 1, 0, 'cpu');
    expect(() => native.lrnForward(pool, t.handle, t.handle)).toThrow(
      'Expected an LrnPlan for plan',
    );
  });

  (native.backends.includes('cuda') ? test.skip : test)(
    `a CPU-only build refuses CUDA plans, in TypeScript and in the addon${native.backends.includes('cuda') ? ' (skipped: this build has CUDA)' : ''}`,
    () => {
      expect(() => new LrnPlan([1, 1, 1, 1], {}, 'cuda:0')).toThrow(
        "Expected an available device for device but received 'cuda:0': this build has only the cpu backend",
      );
      expect(() => new native.LrnPlan(1, 1, 1, 1, 1, 1, 1, 1, 'cuda:0')).toThrow(
        "LrnPlan: device 'cuda:0' is not built",
      );
    },
  );
});
