/**
 * Decompression bombs for the pixel-limit tests: small files whose headers announce huge images.
 *
 * - pngBomb: a real, valid greyscale PNG of side x side zeros. Its zlib stream (RFC 1950/1951) is
 *   built without compressing gigabytes: one chunk of rows is deflated once with a full flush
 *   (which ends it on a byte boundary and resets the window, so copies of it can follow each
 *   other), repeated, then closed with an empty final block and the Adler-32 of all those zeros,
 *   which has a closed form (a = 1, b = n mod 65521 for n zero bytes). At 40000 x 40000 it is
 *   1.5 MB, the bomb of issue 13.
 * - jpegBomb: a real JPEG whose frame header is rewritten to claim side x side; its scan data no
 *   longer fits, but a decoder that reads the header first refuses it before reading the scan.
 */
import * as zlib from 'node:zlib';

/** A PNG chunk: length, type, data, CRC-32 of type and data (PNG spec §5.3). */
function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid 8-bit greyscale PNG of side x side zeros; `side` must be a multiple of 100. */
export function pngBomb(side: number): Buffer {
  const rowsPerChunk = 100;
  const rowBytes = side + 1; // filter type byte, then the row
  const piece = zlib.deflateRawSync(Buffer.alloc(rowsPerChunk * rowBytes), {
    level: 9,
    finishFlush: zlib.constants.Z_FULL_FLUSH,
  });
  const total = side * rowBytes;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0);
  const stream = Buffer.concat([
    Buffer.from([0x78, 0xda]),
    ...Array.from({ length: side / rowsPerChunk }, () => piece),
    Buffer.from([0x03, 0x00]), // an empty final block with fixed codes: BFINAL 1, BTYPE 01, EOB
    adler,
  ]);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, adaptive filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', stream),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** `jpeg` with its baseline frame header (SOF0) rewritten to claim side x side pixels. */
export function jpegBomb(jpeg: Buffer, side: number): Buffer {
  const bomb = Buffer.from(jpeg);
  const sof = bomb.indexOf(Buffer.from([0xff, 0xc0]));
  if (sof < 0) throw new Error('the JPEG has no baseline frame header');
  bomb.writeUInt16BE(side, sof + 5);
  bomb.writeUInt16BE(side, sof + 7);
  return bomb;
}
