/**
 * Weights packed once per change: PackedWeights (lib/ops/packed-weights.ts), a fully connected
 * layer's, and ConvPlan's forward, which keeps its packed weights in the plan. Each must give the
 * bits of the computation without a kept copy (gemm with transB and the same epilogue, which
 * test/gemm.test.ts checks against a float64 reference; a fresh ConvPlan, checked by
 * test/conv.test.ts), and see every way the weights can change between two calls: written from
 * JavaScript, filled, copied into, written through a view of their buffer, updated by SGD,
 * overwritten by another op, or replaced by another tensor.
 */
import { ConvPlan, gemm, PackedWeights, sgdUpdate, Tensor } from '../lib';
import { Linear } from '../lib/nn/linear';
import { Rng, testSeed } from './util/random';

function bits(t: Tensor): number[] {
  return Array.from(new Uint32Array(t.toArray().buffer));
}

const seed = testSeed();

describe(`PackedWeights (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const [k, n] = [300, 70];

  /** y from the packed weights and from gemm, as bits, for x of m rows. */
  function both(packed: PackedWeights, x: Tensor, w: Tensor, bias: Tensor) {
    const m = x.shape[0];
    const [y, expected] = [Tensor.zeros([m, n]), Tensor.zeros([m, n])];
    y.fill(Number.NaN);
    packed.multiply(x, w, y, { bias, relu: true });
    gemm(x, w, expected, { transB: true, epilogue: { bias, relu: true } });
    const result = { got: bits(y), expected: bits(expected) };
    y.dispose();
    expected.dispose();
    return result;
  }

  for (const m of [1, 32, 33, 90]) {
    test(`${m} rows: the bits of gemm with transB and the same epilogue`, () => {
      const packed = new PackedWeights();
      const x = Tensor.from(rng.uniform(m * k), [m, k]);
      const w = Tensor.from(rng.uniform(n * k), [n, k]);
      const bias = Tensor.from(rng.uniform(n), [n]);
      const { got, expected } = both(packed, x, w, bias);
      expect(got).toEqual(expected);
      for (const t of [x, w, bias]) t.dispose();
      packed.dispose();
    });
  }

  test('packs again after every kind of change to the weights, and only reads current ones', () => {
    const m = 40;
    const packed = new PackedWeights();
    const x = Tensor.from(rng.uniform(m * k), [m, k]);
    const w = Tensor.from(rng.uniform(n * k), [n, k]);
    const bias = Tensor.from(rng.uniform(n), [n]);
    const other = Tensor.from(rng.uniform(n * k), [n, k]);
    const grad = Tensor.from(rng.uniform(n * k), [n, k]);
    const velocity = Tensor.zeros([n, k]);
    const a = Tensor.from(rng.uniform(n * 5), [n, 5]);
    const b = Tensor.from(rng.uniform(5 * k), [5, k]);
    const changes: [string, () => void][] = [
      ['write', () => w.write(rng.uniform(n * k))],
      ['fill', () => w.fill(0.25)],
      ['copyFrom', () => w.copyFrom(other)],
      ['a view of its buffer written', () => w.view([3, k]).write(rng.uniform(3 * k))],
      ['sgdUpdate', () => sgdUpdate(w, grad, velocity, { lr: 0.5, momentum: 0.9, weightDecay: 0 })],
      ['the output of a gemm', () => gemm(a, b, w)],
    ];
    expect(both(packed, x, w, bias).got).toEqual(both(packed, x, w, bias).expected);
    for (const [name, change] of changes) {
      const before = bits(w);
      change();
      const { got, expected } = both(packed, x, w, bias);
      // Each change really changed the weights, so a stale copy would give other bits.
      expect({ name, changed: bits(w).join() !== before.join() }).toEqual({ name, changed: true });
      expect({ name, got }).toEqual({ name, got: expected });
    }
    // Another tensor of the same shape.
    expect(both(packed, x, other, bias).got).toEqual(both(packed, x, other, bias).expected);
    packed.release();
    expect(both(packed, x, w, bias).got).toEqual(both(packed, x, w, bias).expected);
    for (const t of [x, w, bias, other, grad, velocity, a, b]) t.dispose();
    packed.dispose();
  });

  test('ConvPlan packs its weights again after every kind of change to them', () => {
    const shape = {
      batch: 2,
      inChannels: 4,
      height: 9,
      width: 9,
      outChannels: 6,
      kernel: 3,
      groups: 2,
    };
    const plan = new ConvPlan(shape);
    const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
    const [wn, wk] = [plan.weightShape[0], size(plan.weightShape) / plan.weightShape[0]];
    const x = Tensor.from(rng.uniform(size(plan.inputShape)), plan.inputShape);
    const w = Tensor.from(rng.uniform(size(plan.weightShape)), plan.weightShape);
    const other = Tensor.from(rng.uniform(size(plan.weightShape)), plan.weightShape);
    const grad = Tensor.from(rng.uniform(size(plan.weightShape)), plan.weightShape);
    const velocity = Tensor.zeros(plan.weightShape);
    const a = Tensor.from(rng.uniform(wn * 5), [wn, 5]);
    const b = Tensor.from(rng.uniform(5 * wk), [5, wk]);
    const y = Tensor.zeros(plan.outputShape);
    /** y from the plan, whose copy may be stale, and from a fresh plan, which packs anew. */
    const both = (weights: Tensor) => {
      plan.forward(x, weights, y);
      const fresh = new ConvPlan(shape);
      const expected = Tensor.zeros(plan.outputShape);
      fresh.forward(x, weights, expected);
      const result = { got: bits(y), expected: bits(expected) };
      expected.dispose();
      fresh.dispose();
      return result;
    };
    const changes: [string, () => void][] = [
      ['write', () => w.write(rng.uniform(size(plan.weightShape)))],
      ['fill', () => w.fill(0.25)],
      ['copyFrom', () => w.copyFrom(other)],
      ['a view of its buffer written', () => w.view([2, wk]).write(rng.uniform(2 * wk))],
      ['sgdUpdate', () => sgdUpdate(w, grad, velocity, { lr: 0.5, momentum: 0.9, weightDecay: 0 })],
      ['the output of a gemm', () => gemm(a, b, w.view([wn, wk]))],
    ];
    expect(both(w).got).toEqual(both(w).expected);
    for (const [name, change] of changes) {
      const before = bits(w);
      change();
      const { got, expected } = both(w);
      expect({ name, changed: bits(w).join() !== before.join() }).toEqual({ name, changed: true });
      expect({ name, got }).toEqual({ name, got: expected });
    }
    expect(both(other).got).toEqual(both(other).expected);
    for (const t of [x, w, other, grad, velocity, a, b, y]) t.dispose();
    plan.dispose();
  });

  test('a Linear layer infers from the packed weights with the bits of its training forward', () => {
    const m = 48;
    const layer = new Linear('fc', k, n, [m, k], 'cpu');
    layer.weight.value.write(rng.uniform(n * k));
    layer.bias.value.write(rng.uniform(n));
    const x = Tensor.from(rng.uniform(m * k), [m, k]);
    const context = { seed: 1, step: 0 };
    for (let round = 0; round < 2; ++round) {
      const inferred = bits(layer.forward(x, { ...context, training: false }));
      const trained = bits(layer.forward(x, { ...context, training: true }));
      expect(inferred).toEqual(trained);
      // Weights changed between two inference passes (as a training step would).
      layer.weight.value.write(rng.uniform(n * k));
    }
    x.dispose();
    layer.dispose();
  });

  test('rejects weights and inputs whose sizes disagree', () => {
    const packed = new PackedWeights();
    const x = Tensor.zeros([4, 10]);
    const w = Tensor.zeros([3, 9]);
    const y = Tensor.zeros([4, 3]);
    expect(() => packed.multiply(x, w, y)).toThrow(
      'Expected x of 9 values per row (w is [3, 9]) but received [4, 10]',
    );
    packed.dispose();
    expect(() => packed.multiply(x, w, y)).toThrow('PackedWeights has been disposed');
    for (const t of [x, w, y]) t.dispose();
  });
});
