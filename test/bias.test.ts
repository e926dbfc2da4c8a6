import { biasAdd, biasBackward, DisposedError, ShapeError, Tensor } from '../lib';
import { expectClose } from './util/compare';
import { centralDifference } from './util/gradient';
import { Rng, testSeed } from './util/random';

const seed = testSeed();

describe(`bias (seed ${seed})`, () => {
  const rng = new Rng(seed);
  // Conv outputs (AlexNet's conv1 and conv5 at batch 2), FC outputs (fc6 at batch 2, and a
  // single row of a single channel), and a 3-D tensor.
  const shapes = [
    [2, 96, 55, 55],
    [2, 256, 13, 13],
    [3, 5, 4, 7],
    [2, 4096],
    [1, 1],
    [4, 3, 10],
  ];

  for (const shape of shapes) {
    const [n, c] = shape;
    const size = shape.reduce((a, b) => a * b, 1);
    const spatial = size / (n * c);

    test(`biasAdd on [${shape.join(', ')}]`, () => {
      const y0 = rng.uniform(size);
      const b = rng.uniform(c);
      const y = Tensor.from(y0, shape);
      const tb = Tensor.from(b, [c]);
      biasAdd(y, tb);
      const expected = new Float64Array(size);
      for (let i = 0; i < size; ++i) expected[i] = y0[i] + b[Math.floor(i / spatial) % c];
      // One float32 addition per element: the result is the exact sum rounded once, within
      // 2^-24 of it relatively; 2^-23 leaves room for the comparison's own rounding.
      expectClose(y.toArray(), expected, { rtol: 2 ** -23, atol: 0 }, 'y');
      y.dispose();
      tb.dispose();
    });

    test(`biasBackward on [${shape.join(', ')}] against finite differences`, () => {
      const y0 = Float64Array.from(rng.uniform(size));
      const r = rng.uniform(size);
      const b = Float64Array.from(rng.uniform(c));
      const dy = Tensor.from(r, shape);
      const db = Tensor.zeros([c]);
      // NaN fails the comparison unless biasBackward overwrites every element.
      db.fill(Number.NaN);
      biasBackward(dy, db);
      // L(b) = sum(r * (y0 + b[channel])): only channel j's terms depend on b[j], the others
      // cancel exactly in the difference, so the loss is summed over channel j alone.
      const expected = Array.from({ length: c }, (_, j) =>
        centralDifference(b, j, () => {
          let total = 0;
          for (let i = 0; i < n; ++i) {
            const start = (i * c + j) * spatial;
            for (let p = start; p < start + spatial; ++p) total += r[p] * (y0[p] + b[j]);
          }
          return total;
        }),
      );
      // A sum of n * spatial terms in [-1, 1], accumulated in float32 lanes: as for conv, the
      // rounding stays far below 1e-6 per term.
      expectClose(db.toArray(), expected, { rtol: 0, atol: 1e-6 * n * spatial }, 'db');
      dy.dispose();
      db.dispose();
    });
  }

  describe('argument checks', () => {
    const y = Tensor.zeros([2, 3, 4, 4]);
    const b = Tensor.zeros([3]);
    afterAll(() => {
      y.dispose();
      b.dispose();
    });

    test('rejects a tensor without a channel dimension', () => {
      const flat = Tensor.zeros([5]);
      expect(() => biasAdd(flat, b)).toThrow(ShapeError);
      expect(() => biasAdd(flat, b)).toThrow(
        'Expected at least 2 dimensions (N, C, ...) for y but received [5]',
      );
      expect(() => biasBackward(flat, b)).toThrow(
        'Expected at least 2 dimensions (N, C, ...) for dy but received [5]',
      );
      flat.dispose();
    });

    test('rejects a bias whose shape is not [C]', () => {
      const wrong = Tensor.zeros([4]);
      const row = Tensor.zeros([1, 3]);
      expect(() => biasAdd(y, wrong)).toThrow(ShapeError);
      expect(() => biasAdd(y, wrong)).toThrow('Expected shape [3] for b but received [4]');
      expect(() => biasAdd(y, row)).toThrow('Expected shape [3] for b but received [1, 3]');
      expect(() => biasBackward(y, wrong)).toThrow('Expected shape [3] for db but received [4]');
      wrong.dispose();
      row.dispose();
    });

    test('rejects arguments that are not tensors', () => {
      expect(() => biasAdd(new Float32Array(96) as unknown as Tensor, b)).toThrow(
        'Expected Tensor for y but received an object of type Float32Array',
      );
      expect(() => biasBackward(y, [0, 0, 0] as unknown as Tensor)).toThrow(
        'Expected Tensor for db but received [0, 0, 0]',
      );
    });

    test('rejects a disposed tensor', () => {
      const gone = Tensor.zeros([3]);
      gone.dispose();
      expect(() => biasAdd(y, gone)).toThrow(DisposedError);
      expect(() => biasAdd(y, gone)).toThrow('Tensor b [3] has been disposed');
      expect(() => biasBackward(gone, b)).toThrow('Tensor dy [3] has been disposed');
    });
  });
});
