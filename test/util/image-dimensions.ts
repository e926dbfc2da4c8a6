/**
 * Caps the width and height an image file declares, for fuzzing the decoders while they still
 * allocate from the header before any limit (issue 13's decompression bombs: pngjs allocates the
 * whole RGBA first, jpeg-js its component buffers up to 100 MP). A mutated header would
 * otherwise make one case take tens of seconds and gigabytes; the uncapped inputs that do are
 * kept in test/fixtures/fuzz/decode-*.json. Remove the cap once the decoders refuse large
 * images from the header.
 */

/**
 * The most either dimension may declare after capping. 1024: jpeg-js's time follows the declared
 * size, not the file's, and a 2.4 KB CMYK JPEG declaring about 2048 x 2048 used 3.8 s of CPU
 * before its error (kept in decode-jpeg.json), over the fuzzer's 2 s.
 */
export const MAX_FUZZ_SIDE = 1024;

/** PNG: IHDR is the first chunk, width and height big-endian u32 at bytes 16 and 20. */
export function capPngDimensions(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  if (out.length < 24 || out.toString('latin1', 12, 16) !== 'IHDR') return out;
  for (const at of [16, 20]) out.writeUInt32BE(Math.min(out.readUInt32BE(at), MAX_FUZZ_SIDE), at);
  return out;
}

/**
 * JPEG: every start-of-frame segment (SOF0-SOF15 but DHT C4, JPG C8 and DAC CC; ITU-T T.81,
 * table B.1) holds the precision, then height and width as big-endian u16 (B.2.2).
 */
export function capJpegDimensions(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  for (let at = 0; at + 9 <= out.length; ++at) {
    const marker = out[at + 1];
    const isSof =
      out[at] === 0xff && marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (!isSof) continue;
    for (const field of [at + 5, at + 7]) {
      out.writeUInt16BE(Math.min(out.readUInt16BE(field), MAX_FUZZ_SIDE), field);
    }
  }
  return out;
}
