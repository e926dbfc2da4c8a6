import {
  ArgumentError,
  DisposedError,
  ShapeError,
  softmaxCrossEntropy,
  Tensor,
  topKCorrect,
} from '../lib';
import { expectClose } from './util/compare';
import { Rng, testSeed } from './util/random';

/** float64 reference: mean over rows of logsumexp(z) - z[label], and its gradient. */
function referenceLoss(
  logits: ArrayLike<number>,
  labels: Int32Array,
  classes: number,
): { loss: number; grad: Float64Array } {
  const n = labels.length;
  const grad = new Float64Array(n * classes);
  let loss = 0;
  for (let i = 0; i < n; ++i) {
    const row = Array.from({ length: classes }, (_, j) => logits[i * classes + j]);
    const max = Math.max(...row);
    const sum = row.reduce((s, z) => s + Math.exp(z - max), 0);
    loss += Math.log(sum) + max - row[labels[i]];
    for (let j = 0; j < classes; ++j) {
      grad[i * classes + j] = (Math.exp(row[j] - max) / sum - (j === labels[i] ? 1 : 0)) / n;
    }
  }
  return { loss: loss / n, grad };
}

/** Reference top-k: a row counts when fewer than k logits exceed its label's. */
function referenceTopK(logits: ArrayLike<number>, labels: Int32Array, classes: number, k: number) {
  let correct = 0;
  for (let i = 0; i < labels.length; ++i) {
    const target = logits[i * classes + labels[i]];
    let greater = 0;
    for (let j = 0; j < classes; ++j) greater += logits[i * classes + j] > target ? 1 : 0;
    correct += greater < k ? 1 : 0;
  }
  return correct;
}

const seed = testSeed();

describe(`softmax cross-entropy and top-k (seed ${seed})`, () => {
  const rng = new Rng(seed);

  for (const [n, classes] of [
    [1, 1],
    [1, 2],
    [7, 10],
    [3, 1001],
    [128, 1000],
  ]) {
    test(`loss and gradient of ${n} x ${classes} logits`, () => {
      const logits = rng.normal(n * classes, 3);
      const labels = rng.int(n, classes);
      const tl = Tensor.from(logits, [n, classes]);
      const td = Tensor.zeros([n, classes]);
      const loss = softmaxCrossEntropy(tl, labels, td);
      const ref = referenceLoss(logits, labels, classes);
      // Both sides compute in float64 from the same float32 inputs, in the same order; the loss
      // is then stored as float32 (it lands in a tensor with the step's other results), which
      // rounds it by at most 2^-24 relative.
      expectClose([loss], [ref.loss], { rtol: 2 ** -24, atol: 1e-12 }, 'loss');
      // The gradient is rounded to float32 (2^-24 relative), after a float32 intermediate for the
      // non-label entries: 2^-22 covers both. atol: probabilities below float32's normal range
      // are rounded to multiples of 2^-149 instead.
      expectClose(td.toArray(), ref.grad, { rtol: 2 ** -22, atol: 2 ** -148 }, 'dlogits');
      tl.dispose();
      td.dispose();
    });
  }

  test('the gradient matches central differences of the float64 reference loss', () => {
    const n = 4;
    const classes = 7;
    const logits = Array.from(rng.normal(n * classes, 2));
    const labels = rng.int(n, classes);
    const h = 1e-4;
    const numeric = logits.map((_, i) => {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      return (
        (referenceLoss(plus, labels, classes).loss - referenceLoss(minus, labels, classes).loss) /
        (2 * h)
      );
    });
    const tl = Tensor.from(Float32Array.from(logits), [n, classes]);
    const td = Tensor.zeros([n, classes]);
    softmaxCrossEntropy(tl, labels, td);
    // Central differences err by h^2 / 6 * |f'''| (< 1e-9: logsumexp's third derivatives are
    // below 1, divided by n) plus float64 rounding / h (~1e-12): atol 1e-8. rtol: our gradient
    // is rounded to float32.
    expectClose(td.toArray(), numeric, { rtol: 1e-6, atol: 1e-8 });
    tl.dispose();
    td.dispose();
  });

  test('logits of +-1e4 give a finite loss and gradient', () => {
    const n = 3;
    const classes = 4;
    const logits = Float32Array.from(
      [
        [1e4, -1e4, -1e4, -1e4],
        [1e4, -1e4, 1e4, -1e4],
        [-1e4, -1e4, -1e4, 1e4],
      ].flat(),
    );
    // Row 0 is certain and right (loss 0), row 1 a coin toss (log 2), row 2 certain and wrong
    // (2e4).
    const labels = Int32Array.from([0, 2, 0]);
    const tl = Tensor.from(logits, [n, classes]);
    const td = Tensor.zeros([n, classes]);
    const loss = softmaxCrossEntropy(tl, labels, td);
    // Stored as float32: 2^-24 relative.
    expectClose([loss], [(Math.log(2) + 2e4) / n], { rtol: 2 ** -24, atol: 0 }, 'loss');
    const expected = [
      [0, 0, 0, 0],
      [0.5, 0, -0.5, 0],
      [-1, 0, 0, 1],
    ]
      .flat()
      .map((g) => g / n);
    // Exact but for the float32 rounding of 1 / (2n) and 1 / n.
    expectClose(td.toArray(), expected, { rtol: 2 ** -23, atol: 0 }, 'dlogits');
    tl.dispose();
    td.dispose();
  });

  test('top-k on hand-checked rows, ties included', () => {
    const logits = Tensor.from(
      Float32Array.from(
        [
          [3, 1, 2],
          [1, 1, 1],
          [0, 5, 5],
          [2, 9, 4],
        ].flat(),
      ),
      [4, 3],
    );
    // Strictly greater logits than the label's: row 0: 0, row 1: 0, row 2: 2, row 3: 1.
    const labels = Int32Array.from([0, 2, 0, 2]);
    expect(topKCorrect(logits, labels, 1)).toBe(2);
    expect(topKCorrect(logits, labels, 2)).toBe(3);
    expect(topKCorrect(logits, labels, 3)).toBe(4);
    logits.dispose();
  });

  for (const [n, classes] of [
    [1, 1],
    [9, 5],
    [128, 1000],
  ]) {
    test(`top-k of ${n} x ${classes} logits against the reference`, () => {
      // Small integers make ties common.
      const logits = Float32Array.from(rng.int(n * classes, 6));
      const labels = rng.int(n, classes);
      const tl = Tensor.from(logits, [n, classes]);
      for (const k of new Set([1, 2, 5, classes].filter((v) => v <= classes))) {
        expect(topKCorrect(tl, labels, k)).toBe(referenceTopK(logits, labels, classes, k));
      }
      tl.dispose();
    });
  }

  describe('rejects bad arguments', () => {
    const logits = Tensor.zeros([2, 3]);
    const dlogits = Tensor.zeros([2, 3]);
    const labels = Int32Array.from([0, 2]);
    afterAll(() => {
      logits.dispose();
      dlogits.dispose();
    });

    test('logits that are not (n, classes)', () => {
      const t = Tensor.zeros([2, 3, 1]);
      expect(() => softmaxCrossEntropy(t, labels, t)).toThrow(ShapeError);
      expect(() => softmaxCrossEntropy(t, labels, t)).toThrow(
        'Expected shape [n, classes] for logits but received [2, 3, 1]',
      );
      expect(() => topKCorrect(t, labels, 1)).toThrow(
        'Expected shape [n, classes] for logits but received [2, 3, 1]',
      );
      t.dispose();
    });

    test('dlogits of another shape', () => {
      const t = Tensor.zeros([3, 2]);
      expect(() => softmaxCrossEntropy(logits, labels, t)).toThrow(
        'Expected shape [2, 3] for dlogits but received [3, 2]',
      );
      t.dispose();
    });

    test('labels of the wrong type or length', () => {
      expect(() =>
        softmaxCrossEntropy(logits, Float32Array.from([0, 1]) as never, dlogits),
      ).toThrow('Expected Int32Array for labels but received an object of type Float32Array');
      expect(() => topKCorrect(logits, Int32Array.from([0, 1, 2]), 1)).toThrow(
        'Expected Int32Array of length 2 for labels but received length 3',
      );
    });

    test('labels out of range', () => {
      expect(() => softmaxCrossEntropy(logits, Int32Array.from([0, 3]), dlogits)).toThrow(
        ArgumentError,
      );
      expect(() => softmaxCrossEntropy(logits, Int32Array.from([0, 3]), dlogits)).toThrow(
        'Expected integer between 0 and 2 for labels[1] but received 3 of type number',
      );
      expect(() => topKCorrect(logits, Int32Array.from([-1, 0]), 1)).toThrow(
        'Expected integer between 0 and 2 for labels[0] but received -1 of type number',
      );
    });

    test('k outside [1, classes]', () => {
      expect(() => topKCorrect(logits, labels, 0)).toThrow(
        'Expected integer between 1 and 3 for k but received 0 of type number',
      );
      expect(() => topKCorrect(logits, labels, 4)).toThrow(
        'Expected integer between 1 and 3 for k but received 4 of type number',
      );
      expect(() => topKCorrect(logits, labels, 1.5)).toThrow(
        'Expected integer between 1 and 3 for k but received 1.5 of type number',
      );
    });

    test('a disposed tensor', () => {
      const gone = Tensor.zeros([2, 3]);
      gone.dispose();
      expect(() => softmaxCrossEntropy(gone, labels, dlogits)).toThrow(DisposedError);
      expect(() => softmaxCrossEntropy(gone, labels, dlogits)).toThrow(
        'Tensor logits [2, 3] has been disposed',
      );
      expect(() => softmaxCrossEntropy(logits, labels, gone)).toThrow(
        'Tensor dlogits [2, 3] has been disposed',
      );
    });
  });
});
