/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11) in plain
 * TypeScript: the reference the native dropout masks are checked against. Its own correctness is
 * pinned by Random123's known-answer vectors in test/dropout.test.ts.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** [high, low] 32-bit halves of the 64-bit product a * b, from exact 16-bit partial products. */
function mulhilo(a: number, b: number): [number, number] {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
  return [hi >>> 0, Math.imul(a, b) >>> 0];
}

/** The four 32-bit outputs for a counter of four words and a key of two. */
export function philox4x32_10(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/**
 * The uniforms in [0, 1) of elements 0 .. n-1 of the stream keyed by (seed, layer) at `step`:
 * element i is word i % 4 of the block at counter (i / 4 low 32 bits, i / 4 high bits, step, 0),
 * from its top 24 bits.
 */
export function philoxUniforms(n: number, seed: number, step: number, layer: number): Float64Array {
  const out = new Float64Array(n);
  for (let group = 0; group * 4 < n; ++group) {
    const words = philox4x32_10([group >>> 0, Math.floor(group / 2 ** 32), step, 0], [seed, layer]);
    for (let j = 0; j < 4 && group * 4 + j < n; ++j)
      out[group * 4 + j] = (words[j] >>> 8) * 2 ** -24;
  }
  return out;
}
