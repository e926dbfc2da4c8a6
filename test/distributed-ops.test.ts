/**
 * What makes N ranks train the model one process trains, op by op and without MPI: the batch
 * shares (contiguous, covering the batch, sizes within one), dropout on a rank's rows drawing the
 * mask elements of those rows in the whole batch (against the TypeScript Philox reference,
 * offsets not multiples of Philox's four-element groups included), and the loss divided by the
 * global batch, so the shares' losses and gradients sum to the whole batch's (against float64).
 */
import { dropoutForward, queueSoftmaxCrossEntropy, shareOf, Tensor } from '../lib';
import { expectClose } from './util/compare';
import { philoxUniforms } from './util/philox';
import { Rng, testSeed } from './util/random';

const seed = testSeed();

describe(`data-parallel ops (seed ${seed})`, () => {
  const rng = new Rng(seed);

  test('shares are contiguous, cover the batch in rank order, and differ by at most one row', () => {
    for (let size = 1; size <= 5; ++size) {
      for (let n = 0; n <= 23; ++n) {
        const shares = Array.from({ length: size }, (_, rank) => shareOf(n, { rank, size }));
        let next = 0;
        for (const share of shares) {
          expect(share.offset).toBe(next);
          next += share.count;
        }
        expect(next).toBe(n);
        const counts = shares.map((s) => s.count);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
    }
  });

  test("a share's dropout mask is its rows of the whole batch's mask", () => {
    const p = 0.5;
    const key = { p, seed: rng.below(2 ** 32), step: rng.below(1000), layer: 7 };
    // 7 features per row: row offsets land on every position within a group of four.
    const [rows, features] = [9, 7];
    const whole = philoxUniforms(rows * features, key.seed, key.step, key.layer);
    for (const [first, count] of [
      [0, 4],
      [3, 2],
      [5, 4],
      [8, 1],
    ]) {
      const x = Tensor.from(new Float32Array(count * features).fill(1), [count, features]);
      const y = Tensor.zeros([count, features]);
      dropoutForward(x, y, { ...key, offset: first * features });
      const expected = Array.from({ length: count * features }, (_, i) =>
        whole[first * features + i] >= Math.fround(p) ? 1 / (1 - Math.fround(p)) : 0,
      );
      expect(Array.from(y.toArray())).toEqual(expected);
      x.dispose();
      y.dispose();
    }
  });

  test("the shares' losses and gradients, divided by the global batch, sum to the batch's", () => {
    const [n, classes] = [10, 6];
    const logits = rng.uniform(n * classes, -4, 4);
    const labels = rng.int(n, classes);
    // float64 reference: mean over the batch of logsumexp(z) - z[label], gradient (softmax - onehot) / n.
    let loss = 0;
    const grad = new Float64Array(n * classes);
    for (let i = 0; i < n; ++i) {
      const z = Array.from(logits.subarray(i * classes, (i + 1) * classes));
      const max = Math.max(...z);
      const sum = z.reduce((s, v) => s + Math.exp(v - max), 0);
      loss += (Math.log(sum) + max - z[labels[i]]) / n;
      for (let j = 0; j < classes; ++j) {
        grad[i * classes + j] = (Math.exp(z[j] - max) / sum - (j === labels[i] ? 1 : 0)) / n;
      }
    }
    let summed = 0;
    for (const [offset, count] of [
      [0, 4],
      [4, 3],
      [7, 3],
    ]) {
      const share = Tensor.from(logits.slice(offset * classes, (offset + count) * classes), [
        count,
        classes,
      ]);
      const dlogits = Tensor.zeros([count, classes]);
      const out = Tensor.zeros([1]);
      const rows = labels.slice(offset, offset + count);
      queueSoftmaxCrossEntropy(share, rows, dlogits, { into: out, index: 0 }, n);
      summed += out.toArray()[0];
      // Float32 gradients of a double computation: rounding only.
      expectClose(dlogits.toArray(), grad.subarray(offset * classes, (offset + count) * classes), {
        rtol: 2 ** -22,
        atol: 2 ** -148,
      });
      for (const t of [share, dlogits, out]) t.dispose();
    }
    // Three float32 roundings of partial sums.
    expectClose([summed], [loss], { rtol: 4 * 2 ** -24, atol: 1e-12 }, 'loss');
  });

  test('a divisor below the share is refused, naming it', () => {
    const logits = Tensor.zeros([3, 2]);
    const dlogits = Tensor.zeros([3, 2]);
    const out = Tensor.zeros([1]);
    expect(() =>
      queueSoftmaxCrossEntropy(logits, new Int32Array(3), dlogits, { into: out, index: 0 }, 2),
    ).toThrow('Expected integer >= 3 for divisor but received 2');
    for (const t of [logits, dlogits, out]) t.dispose();
  });
});
