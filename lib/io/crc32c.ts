/**
 * CRC-32C (Castagnoli; RFC 3720 section 12.1), the checksum of TFRecord files
 * (tensorflow/core/lib/hash/crc32c.h). Reflected polynomial 0x82f63b78, initial value and final
 * xor 0xffffffff. One table lookup per byte: the records it guards are a few dozen bytes.
 */

const table = new Uint32Array(256);
for (let n = 0; n < 256; ++n) {
  let c = n;
  for (let bit = 0; bit < 8; ++bit) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  table[n] = c;
}

/** The CRC-32C of `bytes` as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; ++i) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
