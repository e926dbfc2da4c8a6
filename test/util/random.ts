/**
 * Seeded random inputs for tests. Each suite draws a fresh seed per run (or takes
 * ALEXNET_TEST_SEED to reproduce one) and puts it in its describe() title, so a failure prints
 * the seed that produced it.
 */

export function testSeed(): number {
  const fixed = process.env.ALEXNET_TEST_SEED;
  return fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: a tiny, well-mixed 32-bit generator; plenty for test inputs. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [lo, hi). */
  uniform(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; ++i) out[i] = lo + (hi - lo) * this.next();
    return out;
  }
  /** Standard normal (Box-Muller) scaled by std. */
  normal(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; ++i) {
      const u = 1 - this.next();
      out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
    }
    return out;
  }
  int(n: number, below: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; ++i) out[i] = Math.floor(this.next() * below);
    return out;
  }
}
