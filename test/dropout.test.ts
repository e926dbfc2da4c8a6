import {
  ArgumentError,
  DisposedError,
  dropoutBackward,
  dropoutForward,
  ShapeError,
  Tensor,
} from '../lib';
import { expectClose } from './util/compare';
import { philox4x32_10, philoxUniforms } from './util/philox';
import { Rng, testSeed } from './util/random';

/**
 * float64 reference: y = x / (1 - p) where the Philox uniform is >= p, with p rounded to the
 * float32 the native op receives.
 */
function referenceDropout(
  x: ArrayLike<number>,
  p: number,
  seed: number,
  step: number,
  layer: number,
): Float64Array {
  const u = philoxUniforms(x.length, seed, step, layer);
  const p32 = Math.fround(p);
  return Float64Array.from(x, (v, i) => (u[i] >= p32 ? v / (1 - p32) : 0));
}

/** Which elements a forward pass kept, read from its output on an all-ones input. */
function mask(n: number, key: { p: number; seed: number; step: number; layer: number }): boolean[] {
  const ones = Tensor.from(new Float32Array(n).fill(1), [n]);
  const y = Tensor.zeros([n]);
  dropoutForward(ones, y, key);
  const kept = Array.from(y.toArray(), (v) => v !== 0);
  ones.dispose();
  y.dispose();
  return kept;
}

/** A binomial count is within 6 standard deviations of its mean (fails with probability < 2e-9). */
function expectBinomial(count: number, n: number, q: number, what: string): void {
  const sigma = Math.sqrt(n * q * (1 - q));
  if (Math.abs(count - n * q) > 6 * sigma) {
    throw new Error(`${what}: ${count} of ${n}, expected ${n * q} ± ${6 * sigma}`);
  }
}

const seed = testSeed();

describe(`dropout (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const uint32 = () => Math.floor(rng.next() * 2 ** 32);

  test('the TypeScript Philox reference matches the Random123 known-answer vectors', () => {
    // Random123 1.14, tests/kat_vectors: philox4x32 10 (counter, key -> output).
    const vectors: [number[], number[], number[]][] = [
      [
        [0, 0, 0, 0],
        [0, 0],
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
      ],
      [
        [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
        [0xffffffff, 0xffffffff],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
      ],
      [
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
      ],
    ];
    for (const [counter, key, expected] of vectors) {
      expect(philox4x32_10(counter, key)).toEqual(expected);
    }
  });

  // Sizes cover a partial last group of four, one element, and several ParallelFor chunks.
  for (const n of [1, 3, 4, 5, 1001, 70001]) {
    for (const p of [0.5, 0.1, 0.9]) {
      test(`forward and backward of ${n} elements at p = ${p} use the Philox mask`, () => {
        const key = { p, seed: uint32(), step: uint32(), layer: uint32() };
        const x = rng.uniform(n);
        const dy = rng.uniform(n);
        const tx = Tensor.from(x, [n]);
        const ty = Tensor.zeros([n]);
        const tdy = Tensor.from(dy, [n]);
        const tdx = Tensor.zeros([n]);
        dropoutForward(tx, ty, key);
        dropoutBackward(tdy, tdx, key);
        // Kept elements are x times the float32 scale 1 / (1 - p): two float32 roundings, each
        // within 2^-24 relative. Dropped elements must be exactly 0 (atol 0).
        const tol = { rtol: 2 ** -22, atol: 0 };
        expectClose(ty.toArray(), referenceDropout(x, p, key.seed, key.step, key.layer), tol, 'y');
        expectClose(
          tdx.toArray(),
          referenceDropout(dy, p, key.seed, key.step, key.layer),
          tol,
          'dx',
        );
        for (const t of [tx, ty, tdy, tdx]) t.dispose();
      });
    }
  }

  test('the keep rate is 1 - p within a binomial bound', () => {
    const n = 1 << 20;
    for (const p of [0.1, 0.5, 0.9]) {
      const kept = mask(n, { p, seed: uint32(), step: uint32(), layer: uint32() });
      expectBinomial(kept.filter(Boolean).length, n, 1 - p, `kept at p = ${p}`);
    }
  });

  test('identical keys give identical masks; another step, layer or seed another mask', () => {
    const n = 1 << 16;
    const p = 0.5;
    const key = { p, seed: uint32(), step: uint32(), layer: uint32() };
    const base = mask(n, key);
    expect(mask(n, { ...key })).toEqual(base);
    // Independent masks disagree on an element with probability 2p(1 - p).
    for (const other of [
      { ...key, step: (key.step + 1) % 2 ** 32 },
      { ...key, layer: (key.layer + 1) % 2 ** 32 },
      { ...key, seed: (key.seed + 1) % 2 ** 32 },
    ]) {
      const m = mask(n, other);
      const differ = m.filter((kept, i) => kept !== base[i]).length;
      expectBinomial(
        differ,
        n,
        2 * p * (1 - p),
        `elements differing from ${JSON.stringify(other)}`,
      );
    }
  });

  test('p = 0 copies, and y may be x itself', () => {
    const x = rng.uniform(1000);
    const tx = Tensor.from(x, [10, 100]);
    const ty = Tensor.zeros([10, 100]);
    dropoutForward(tx, ty, { p: 0, seed: 1, step: 2, layer: 3 });
    expect(ty.toArray()).toEqual(x);
    const key = { p: 0.3, seed: uint32(), step: uint32(), layer: uint32() };
    dropoutForward(tx, tx, key);
    expectClose(tx.toArray(), referenceDropout(x, 0.3, key.seed, key.step, key.layer), {
      rtol: 2 ** -22,
      atol: 0,
    });
    tx.dispose();
    ty.dispose();
  });

  test('backward matches central differences of the float64 reference forward', () => {
    const n = 37;
    const key = { p: 0.4, seed: uint32(), step: uint32(), layer: uint32() };
    const x = Array.from(rng.uniform(n));
    const r = rng.uniform(n);
    const loss = (v: number[]) =>
      referenceDropout(v, key.p, key.seed, key.step, key.layer).reduce(
        (s, y, i) => s + r[i] * y,
        0,
      );
    const h = 1e-3;
    const numeric = x.map((_, i) => {
      const plus = x.slice();
      const minus = x.slice();
      plus[i] += h;
      minus[i] -= h;
      return (loss(plus) - loss(minus)) / (2 * h);
    });
    const tdy = Tensor.from(r, [n]);
    const tdx = Tensor.zeros([n]);
    dropoutBackward(tdy, tdx, key);
    // The forward is linear, so the difference quotient is exact up to float64 rounding
    // (~1e-16 / h); our dx carries two float32 roundings of r / (1 - p).
    expectClose(tdx.toArray(), numeric, { rtol: 2 ** -22, atol: 1e-10 });
    tdy.dispose();
    tdx.dispose();
  });

  describe('rejects bad arguments', () => {
    const x = Tensor.zeros([2, 3]);
    const y = Tensor.zeros([2, 3]);
    const key = { p: 0.5, seed: 1, step: 2, layer: 3 };
    afterAll(() => {
      x.dispose();
      y.dispose();
    });

    test.each([
      [{ ...key, p: 1 }, 'Expected number in [0, 1) for p but received 1 of type number'],
      [{ ...key, p: -0.1 }, 'Expected number in [0, 1) for p but received -0.1 of type number'],
      [
        { ...key, p: Number.NaN },
        'Expected number in [0, 1) for p but received NaN of type number',
      ],
      [
        { ...key, seed: -1 },
        'Expected integer between 0 and 4294967295 for seed but received -1 of type number',
      ],
      [
        { ...key, step: 2 ** 32 },
        'Expected integer between 0 and 4294967295 for step but received 4294967296 of type number',
      ],
      [
        { ...key, layer: 1.5 },
        'Expected integer between 0 and 4294967295 for layer but received 1.5 of type number',
      ],
    ])('key %p', (bad, message) => {
      expect(() => dropoutForward(x, y, bad)).toThrow(ArgumentError);
      expect(() => dropoutForward(x, y, bad)).toThrow(message);
      expect(() => dropoutBackward(x, y, bad)).toThrow(message);
    });

    test('a missing key', () => {
      expect(() => dropoutForward(x, y, null as never)).toThrow(
        'Expected object for key but received null',
      );
    });

    test('mismatched shapes', () => {
      const wrong = Tensor.zeros([3, 2]);
      expect(() => dropoutForward(x, wrong, key)).toThrow(ShapeError);
      expect(() => dropoutForward(x, wrong, key)).toThrow(
        'Expected shape [2, 3] for y but received [3, 2]',
      );
      expect(() => dropoutBackward(x, wrong, key)).toThrow(
        'Expected shape [2, 3] for dx but received [3, 2]',
      );
      wrong.dispose();
    });

    test('a non-tensor and a disposed tensor', () => {
      expect(() => dropoutForward(new Float32Array(6) as never, y, key)).toThrow(
        'Expected Tensor for x but received an object of type Float32Array',
      );
      const gone = Tensor.zeros([2, 3]);
      gone.dispose();
      expect(() => dropoutBackward(gone, y, key)).toThrow(DisposedError);
      expect(() => dropoutBackward(gone, y, key)).toThrow('Tensor dy [2, 3] has been disposed');
    });
  });
});
