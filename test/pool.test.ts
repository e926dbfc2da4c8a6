import {
  ArgumentError,
  DisposedError,
  type MaxPoolOptions,
  MaxPoolPlan,
  ShapeError,
  Tensor,
} from '../lib';
import { native } from '../lib/native';
import { expectClose } from './util/compare';
import { centralDifferences, sampleIndices, shuffledGrid } from './util/gradient';
import { Rng, testSeed } from './util/random';

type Shape = readonly [number, number, number, number];
type Geometry = Required<MaxPoolOptions>;

function outputSide(size: number, { kernel, stride, pad }: Geometry): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/**
 * Calls visit(outputIndex, argmax) for every output of a max pooling of x, argmax being the
 * input index of the window's first maximum in row-major scan order (padding never wins).
 */
function forEachWindow(
  x: ArrayLike<number>,
  [n, c, h, w]: Shape,
  g: Geometry,
  visit: (output: number, argmax: number) => void,
): void {
  const oh = outputSide(h, g);
  const ow = outputSide(w, g);
  for (let plane = 0; plane < n * c; ++plane) {
    for (let oy = 0; oy < oh; ++oy) {
      for (let ox = 0; ox < ow; ++ox) {
        let argmax = -1;
        for (let ky = 0; ky < g.kernel; ++ky) {
          const iy = oy * g.stride - g.pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < g.kernel; ++kx) {
            const ix = ox * g.stride - g.pad + kx;
            if (ix < 0 || ix >= w) continue;
            const i = (plane * h + iy) * w + ix;
            if (argmax < 0 || x[i] > x[argmax]) argmax = i;
          }
        }
        visit((plane * oh + oy) * ow + ox, argmax);
      }
    }
  }
}

/** float64 reference forward. */
function referenceMaxPool(x: ArrayLike<number>, shape: Shape, g: Geometry): Float64Array {
  const y = new Float64Array(
    shape[0] * shape[1] * outputSide(shape[2], g) * outputSide(shape[3], g),
  );
  forEachWindow(x, shape, g, (o, argmax) => {
    y[o] = x[argmax];
  });
  return y;
}

/** float64 reference backward: each dy added at its window's first maximum. */
function referenceMaxPoolBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: Shape,
  g: Geometry,
): Float64Array {
  const dx = new Float64Array(x.length);
  forEachWindow(x, shape, g, (o, argmax) => {
    dx[argmax] += dy[o];
  });
  return dx;
}

// The forward pass selects an input element, so it is exact.
const exact = { rtol: 0, atol: 0 };

/**
 * The backward pass adds up to `overlap` = ceil(kernel / stride)² values of dy, all in (-1, 1),
 * into one dx in float32: each addition rounds by at most 2^-24 of a partial sum below
 * `overlap`, so the error is below overlap² 2^-24 (1e-6 for AlexNet's 3x3 stride 2).
 */
function backwardTolerance({ kernel, stride }: Geometry) {
  const overlap = Math.ceil(kernel / stride) ** 2;
  return { rtol: 0, atol: overlap ** 2 * 2 ** -24 };
}

interface Case {
  name: string;
  shape: Shape;
  options: Geometry;
  outputShape: number[];
  differences: number;
}

const alexnet = { kernel: 3, stride: 2, pad: 0 };

const cases: Case[] = [
  {
    name: 'overlapping 3x3 stride 2',
    shape: [1, 2, 5, 5],
    options: alexnet,
    outputShape: [1, 2, 2, 2],
    differences: Infinity,
  },
  // floor((7 + 2 - 3) / 2) + 1 = 4 and floor((6 + 2 - 3) / 2) + 1 = 3: the last column of
  // windows does not fit and is dropped, as in PyTorch.
  {
    name: 'padded, uneven sides',
    shape: [2, 3, 7, 6],
    options: { kernel: 3, stride: 2, pad: 1 },
    outputShape: [2, 3, 4, 3],
    differences: Infinity,
  },
  {
    name: 'non-overlapping 2x2',
    shape: [1, 2, 6, 6],
    options: { kernel: 2, stride: 2, pad: 0 },
    outputShape: [1, 2, 3, 3],
    differences: Infinity,
  },
  {
    name: 'stride 1, nine windows per input',
    shape: [1, 2, 5, 4],
    options: { kernel: 3, stride: 1, pad: 1 },
    outputShape: [1, 2, 5, 4],
    differences: Infinity,
  },
  {
    name: '5x5 stride 3 pad 2',
    shape: [1, 1, 11, 9],
    options: { kernel: 5, stride: 3, pad: 2 },
    outputShape: [1, 1, 4, 3],
    differences: Infinity,
  },
  {
    name: 'one window covering the input',
    shape: [1, 3, 4, 4],
    options: { kernel: 4, stride: 1, pad: 0 },
    outputShape: [1, 3, 1, 1],
    differences: Infinity,
  },
  // AlexNet at batch 2: pool1, pool2 and pool5.
  {
    name: 'pool1',
    shape: [2, 96, 55, 55],
    options: alexnet,
    outputShape: [2, 96, 27, 27],
    differences: 16,
  },
  {
    name: 'pool2',
    shape: [2, 256, 27, 27],
    options: alexnet,
    outputShape: [2, 256, 13, 13],
    differences: 16,
  },
  {
    name: 'pool5',
    shape: [2, 256, 13, 13],
    options: alexnet,
    outputShape: [2, 256, 6, 6],
    differences: 16,
  },
];

const seed = testSeed();

describe(`max pooling (seed ${seed})`, () => {
  const rng = new Rng(seed);

  for (const [{ name, shape, options, outputShape, differences }, keepArgmax] of cases.flatMap(
    (c) => [[c, false] as const, [c, true] as const],
  )) {
    const { kernel, stride, pad } = options;
    const how = keepArgmax ? ', backward from the argmax the forward kept' : '';
    test(`${name}: ${shape.join('x')} kernel ${kernel} stride ${stride} pad ${pad}${how}`, () => {
      const plan = new MaxPoolPlan(shape, options, 'cpu', { keepArgmax });
      expect(plan.outputShape).toEqual(outputShape);
      // Each plane holds distinct values 2 / (h w) apart, so no window has a tie, and a step of a
      // quarter of that never changes a window's maximum.
      const planeSize = shape[2] * shape[3];
      const xData = new Float32Array(shape[0] * shape[1] * planeSize);
      for (let p = 0; p < shape[0] * shape[1]; ++p) {
        xData.set(shuffledGrid(rng, planeSize, -1, 1), p * planeSize);
      }
      const x = Tensor.from(xData, shape);
      const y = Tensor.zeros(outputShape);
      plan.forward(x, y);
      expectClose(y.toArray(), referenceMaxPool(xData, shape, options), exact, 'y');

      const r = rng.uniform(y.size);
      const dy = Tensor.from(r, outputShape);
      const dx = Tensor.zeros(shape);
      // dx starts dirty: the backward must overwrite it, not add to it.
      dx.fill(1);
      plan.backward(x, y, dy, dx);
      const dxData = dx.toArray();
      const tolerance = backwardTolerance(options);
      expectClose(dxData, referenceMaxPoolBackward(xData, r, shape, options), tolerance, 'dx');

      // Max pooling is linear while no maximum changes, so the differences are exact but for
      // float64 rounding, 2^-52 Σ|r·y| / h < 1e-7 at these sizes.
      const indices = sampleIndices(rng, x.size, differences);
      const fd = centralDifferences(
        (point) => referenceMaxPool(point, shape, options),
        xData,
        r,
        indices,
        0.5 / planeSize,
      );
      expectClose(
        indices.map((i) => dxData[i]),
        fd,
        { rtol: 0, atol: tolerance.atol + 1e-7 },
        'dx vs finite differences',
      );
      for (const t of [x, y, dy, dx]) t.dispose();
      plan.dispose();
    });
  }

  test('on ties, the gradient goes to the first maximum in row-major order', () => {
    const plan = new MaxPoolPlan([1, 1, 3, 3], { kernel: 2, stride: 1 });
    const x = Tensor.from(new Float32Array(9).fill(7), [1, 1, 3, 3]);
    const y = Tensor.zeros([1, 1, 2, 2]);
    plan.forward(x, y);
    expect(Array.from(y.toArray())).toEqual([7, 7, 7, 7]);
    const dy = Tensor.from(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2]);
    const dx = Tensor.zeros([1, 1, 3, 3]);
    plan.backward(x, y, dy, dx);
    // The windows' top-left elements: (0, 0), (0, 1), (1, 0), (1, 1).
    expect(Array.from(dx.toArray())).toEqual([1, 2, 0, 3, 4, 0, 0, 0, 0]);
  });

  test('keepArgmax gives the same y and dx, bit for bit, on ties, zeros of both signs, infinities and NaN', () => {
    // Values from a set of 5 (0, -0, 1, -Infinity, NaN) and a few planes of all one value, so
    // windows tie often, across rows and columns, and some hold no real maximum at all.
    const shape = [2, 3, 9, 11];
    const values = [0, -0, 1, Number.NEGATIVE_INFINITY, Number.NaN];
    const size = 2 * 3 * 9 * 11;
    const data = Float32Array.from({ length: size }, () => values[rng.below(values.length)]);
    data.fill(-0, 0, 99);
    data.fill(Number.NaN, 99, 198);
    data.fill(Number.NEGATIVE_INFINITY, 198, 297);
    for (const options of [
      { kernel: 3, stride: 2, pad: 0 },
      { kernel: 3, stride: 1, pad: 1 },
      { kernel: 2, stride: 2, pad: 1 },
    ]) {
      const searched = new MaxPoolPlan(shape, options);
      const kept = new MaxPoolPlan(shape, options, 'cpu', { keepArgmax: true });
      const x = Tensor.from(data, shape);
      const [ya, yb] = [Tensor.zeros(searched.outputShape), Tensor.zeros(searched.outputShape)];
      const dy = Tensor.from(rng.uniform(ya.size, -1, 1), searched.outputShape);
      const [dxa, dxb] = [Tensor.zeros(shape), Tensor.zeros(shape)];
      searched.forward(x, ya);
      kept.forward(x, yb);
      searched.backward(x, ya, dy, dxa);
      kept.backward(x, yb, dy, dxb);
      // Compared as bits: toEqual would take -0 for 0 and NaN for NaN.
      const bits = (t: Tensor) => Array.from(new Uint32Array(t.toArray().buffer));
      expect(bits(yb)).toEqual(bits(ya));
      expect(bits(dxb)).toEqual(bits(dxa));
      for (const t of [x, ya, yb, dy, dxa, dxb]) t.dispose();
      searched.dispose();
      kept.dispose();
    }
  });

  test('keepArgmax: a backward given other tensors than the last forward searches them', () => {
    const plan = new MaxPoolPlan([1, 1, 2, 2], { kernel: 2, stride: 1 }, 'cpu', {
      keepArgmax: true,
    });
    const x1 = Tensor.from(new Float32Array([5, 1, 1, 1]), [1, 1, 2, 2]);
    const x2 = Tensor.from(new Float32Array([1, 1, 1, 5]), [1, 1, 2, 2]);
    const y = Tensor.zeros([1, 1, 1, 1]);
    const dy = Tensor.from(new Float32Array([1]), [1, 1, 1, 1]);
    const dx = Tensor.zeros([1, 1, 2, 2]);
    plan.forward(x1, y);
    // x2 was never the forward's input: its own maximum (the last element) gets the gradient,
    // not the kept argmax of x1 (the first).
    plan.backward(x2, y, dy, dx);
    expect(Array.from(dx.toArray())).toEqual([0, 0, 0, 1]);
    plan.backward(x1, y, dy, dx);
    expect(Array.from(dx.toArray())).toEqual([1, 0, 0, 0]);
    for (const t of [x1, x2, y, dy, dx]) t.dispose();
    plan.dispose();
  });

  test('padding never wins, even over negative inputs', () => {
    const plan = new MaxPoolPlan([1, 1, 2, 2], { kernel: 3, stride: 1, pad: 1 });
    const x = Tensor.from(new Float32Array([-4, -3, -2, -1]), [1, 1, 2, 2]);
    const y = Tensor.zeros([1, 1, 2, 2]);
    plan.forward(x, y);
    expect(Array.from(y.toArray())).toEqual([-1, -1, -1, -1]);
  });

  test('fills in the defaults: kernel 3, stride 2, pad 0', () => {
    const plan = new MaxPoolPlan([2, 96, 55, 55]);
    expect(plan.options).toEqual({ kernel: 3, stride: 2, pad: 0 });
    expect(plan.inputShape).toEqual([2, 96, 55, 55]);
    expect(plan.outputShape).toEqual([2, 96, 27, 27]);
    expect(plan.device).toBe('cpu');
  });

  test('rejects invalid shapes and options with exact messages', () => {
    const make = (shape: unknown, options?: unknown) => () =>
      new MaxPoolPlan(shape as number[], options as MaxPoolOptions);
    expect(make([5])).toThrow(ArgumentError);
    expect(make([5])).toThrow(
      'Expected array of 4 sizes [n, c, h, w] for inputShape but received [5]',
    );
    expect(make([1, 1, 5, 2.5])).toThrow(
      'Expected positive integer for inputShape[3] but received 2.5 of type number',
    );
    expect(make([1, 1, 5, 5], { kernel: 0 })).toThrow(
      'Expected positive integer for kernel but received 0 of type number',
    );
    expect(make([1, 1, 5, 5], { stride: 1.5 })).toThrow(
      'Expected positive integer for stride but received 1.5 of type number',
    );
    expect(make([1, 1, 5, 5], { pad: 2 })).toThrow(
      'Expected integer between 0 and 1 for pad but received 2 of type number',
    );
    expect(make([1, 1, 5, 5], { pad: -1 })).toThrow(
      'Expected integer between 0 and 1 for pad but received -1 of type number',
    );
    expect(make([1, 1, 2, 5])).toThrow(
      "Expected integer <= 2, the padded input's smaller side, for kernel but received 3 of type number",
    );
    expect(make([1, 1, 13, 13], { kernel: 17, pad: 1 })).toThrow(
      "Expected integer <= 15, the padded input's smaller side, for kernel but received 17 of type number",
    );
    expect(make([1, 1, 5, 5], 3)).toThrow(
      'Expected object for options but received 3 of type number',
    );
  });

  test('rejects tensors of the wrong shape and aliasing that would corrupt the result', () => {
    const plan = new MaxPoolPlan([1, 1, 5, 5], { kernel: 3, stride: 2 });
    const x = Tensor.zeros([1, 1, 5, 5]);
    const y = Tensor.zeros([1, 1, 2, 2]);
    expect(() => plan.forward(x, x)).toThrow(ShapeError);
    expect(() => plan.forward(x, x)).toThrow(
      'Expected shape [1, 1, 2, 2] for y but received [1, 1, 5, 5]',
    );
    expect(() => plan.backward(x, y, y, y)).toThrow(
      'Expected shape [1, 1, 5, 5] for dx but received [1, 1, 2, 2]',
    );
    expect(() => plan.backward(x, y, 1 as unknown as Tensor, x)).toThrow(
      'Expected Tensor for dy but received 1 of type number',
    );

    // With kernel 3, stride 1 and pad 1 the output has the input's shape, so aliasing type-checks.
    const same = new MaxPoolPlan([1, 1, 5, 5], { kernel: 3, stride: 1, pad: 1 });
    const a = Tensor.zeros([1, 1, 5, 5]);
    const b = Tensor.zeros([1, 1, 5, 5]);
    expect(() => same.forward(a, a)).toThrow('Expected a tensor other than x for y but received x');
    expect(() => same.backward(a, b, b, a)).toThrow(
      'Expected a tensor other than x for dx but received x',
    );
    expect(() => same.backward(a, b, x, b)).toThrow(
      'Expected a tensor other than y for dx but received y',
    );
    expect(() => same.backward(a, b, x, x)).toThrow(
      'Expected a tensor other than dy for dx but received dy',
    );
  });

  test('rejects disposed tensors and use after dispose', () => {
    const plan = new MaxPoolPlan([1, 1, 5, 5]);
    const x = Tensor.zeros([1, 1, 5, 5]);
    const y = Tensor.zeros([1, 1, 2, 2]);
    x.dispose();
    expect(() => plan.forward(x, y)).toThrow('Tensor x [1, 1, 5, 5] has been disposed');
    plan.dispose();
    plan.dispose();
    expect(plan.disposed).toBe(true);
    expect(() => plan.forward(x, y)).toThrow(DisposedError);
    expect(() => plan.backward(x, y, y, x)).toThrow('MaxPoolPlan [1, 1, 5, 5] has been disposed');
  });

  test('the native entry points refuse a disposed or foreign plan', () => {
    const raw = new native.PoolPlan(1, 1, 1, 1, 1, 1, 0, 'cpu');
    const t = Tensor.zeros([1, 1, 1, 1]);
    raw.dispose();
    expect(() => native.maxPoolForward(raw, t.handle, t.handle)).toThrow(
      'PoolPlan has been disposed',
    );
    const lrn = new native.LrnPlan(1, 1, 1, 1, 1, 1, 1, 1, 'cpu');
    expect(() => native.maxPoolForward(lrn, t.handle, t.handle)).toThrow(
      'Expected a PoolPlan for plan',
    );
  });

  (native.backends.includes('cuda') ? test.skip : test)(
    `a CPU-only build refuses CUDA plans, in TypeScript and in the addon${native.backends.includes('cuda') ? ' (skipped: this build has CUDA)' : ''}`,
    () => {
      expect(() => new MaxPoolPlan([1, 1, 3, 3], {}, 'cuda:0')).toThrow(
        "Expected an available device for device but received 'cuda:0': this build has only the cpu backend",
      );
      expect(() => new native.PoolPlan(1, 1, 3, 3, 3, 2, 0, 'cuda:0')).toThrow(
        "PoolPlan: device 'cuda:0' is not built",
      );
    },
  );
});
