/**
 * Byte-level mutations of real files, as fast-check arbitraries: the way a download cut short,
 * a flipped bit on a disk or a hand-edited header damages a file. A mutated input is a seed file
 * and a list of edits, so fast-check shrinks a failure to the fewest edits that still break it.
 * Positions are taken modulo the current length, so every edit applies to any seed.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'int32'; at: number; value: number; little: boolean }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat'; at: number; length: number; times: number }
  | { kind: 'truncate'; at: number };

/** Integers at the edges of the sizes and counts a header holds (lengths, dimensions). */
const EDGE_INT32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff];
const EDGE_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

const position = fc.nat();

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: position,
    value: fc.oneof(fc.constantFrom(...EDGE_BYTES), fc.nat(255)),
  }),
  fc.record({
    kind: fc.constant('int32' as const),
    at: position,
    value: fc.oneof(fc.constantFrom(...EDGE_INT32, -1, -0x80000000), fc.integer()),
    little: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: position,
    length: fc.integer({ min: 1, max: 256 }),
  }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
    times: fc.integer({ min: 2, max: 64 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const at = n === 0 ? 0 : m.at % n;
  const out = Buffer.from(bytes);
  switch (m.kind) {
    case 'flip':
      if (n > 0) out[at] ^= 1 << m.bit;
      return out;
    case 'set':
      if (n > 0) out[at] = m.value;
      return out;
    case 'int32':
      if (n < 4) return out;
      if (m.little) out.writeInt32LE(m.value | 0, Math.min(at, n - 4));
      else out.writeInt32BE(m.value | 0, Math.min(at, n - 4));
      return out;
    case 'insert':
      return Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    case 'delete':
      return Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
    case 'repeat': {
      const piece = out.subarray(at, at + m.length);
      const copies = new Array<Uint8Array>(m.times).fill(piece);
      return Buffer.concat([out.subarray(0, at), ...copies, out.subarray(at + m.length)]);
    }
    case 'truncate':
      return out.subarray(0, at);
  }
}

export function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  return mutations.reduce(apply, seed);
}

/**
 * Recomputes the CRC of every chunk of a PNG (ISO/IEC 15948, 5.3: CRC-32 of the chunk type and
 * data), so that mutations reach the decoder's handling of the chunks instead of stopping at
 * the CRC check. Stops at the first chunk that runs past the end; the bytes are left as they are
 * where the chunk layout is broken.
 */
export function fixPngCrcs(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  let at = 8;
  while (at + 12 <= out.length) {
    const length = out.readUInt32BE(at);
    const end = at + 8 + length;
    if (end + 4 > out.length) break;
    out.writeUInt32BE(crc32(out.subarray(at + 4, end)), end);
    at = end + 4;
  }
  return out;
}

/** A seed file by name, with its bytes. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
}

/** A seed and the edits made to it; printed as both (not as the bytes) when a case fails. */
export interface MutatedFile {
  bytes: Uint8Array;
}

/** One of `seeds`, damaged by up to `maxMutations` edits, then passed through `finish`. */
export function mutatedFile(
  seeds: readonly Seed[],
  maxMutations = 6,
  finish: (bytes: Uint8Array) => Uint8Array = (bytes) => bytes,
): fc.Arbitrary<MutatedFile> {
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(mutation, { maxLength: maxMutations }))
    .map(([index, mutations]) => ({
      bytes: finish(mutate(seeds[index].bytes, mutations)),
      [fc.toStringMethod]: () =>
        `${seeds[index].name} with ${JSON.stringify(mutations, (_, v) =>
          v instanceof Uint8Array ? Array.from(v) : v,
        )}`,
    }));
}
