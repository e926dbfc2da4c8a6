/**
 * A small seeded generator for the choices TypeScript makes: weight initialisation, shuffling,
 * crop offsets. mulberry32 (Tommy Ettinger, public domain): 32-bit state, passes PractRand to
 * 2^32 outputs, plenty for these uses. Its state is one integer, so a checkpoint can store it
 * and a resumed run continues the same stream. Per-element randomness on the device (dropout)
 * uses the counter-based Philox in native/core/philox.h instead.
 */
// Read once: under jest's sandbox a global lookup of Math inside a hot loop costs ~10x.
const { cos, imul, log, sin, sqrt, PI } = Math;

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's state, to store in a checkpoint; `new Rng(0).restore(s)` continues it. */
  save(): number {
    return this.state;
  }

  restore(state: number): this {
    this.state = state >>> 0;
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, below). */
  below(below: number): number {
    return Math.floor(this.next() * below);
  }

  /** Standard normal by Box-Muller, times std. */
  gaussian(std = 1): number {
    const u = 1 - this.next();
    return std * sqrt(-2 * log(u)) * cos(2 * PI * this.next());
  }

  /** n uniforms in [lo, hi). */
  uniform(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; ++i) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** n normals with standard deviation std (both values of each Box-Muller pair). */
  normal(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = std * sqrt(-2 * log(1 - this.next()));
      const theta = 2 * PI * this.next();
      out[i] = r * cos(theta);
      if (i + 1 < n) out[i + 1] = r * sin(theta);
    }
    return out;
  }

  /** n integers in [0, below). */
  int(n: number, below: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; ++i) out[i] = this.below(below);
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; --i) {
      const j = this.below(i + 1);
      const t = values[i];
      values[i] = values[j];
      values[j] = t;
    }
    return values;
  }
}
