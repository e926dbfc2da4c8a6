/**
 * What an image file's first bytes say before anything is decoded: its format, from the file's
 * signature (not its name), and for JPEG and PNG its size, from the header. Both decoders check
 * the size against a pixel limit before they allocate anything, so a decompression bomb (a 1.5 MB
 * PNG of 40000 x 40000 zeros) is refused at once instead of after gigabytes of allocation.
 *
 * Signatures: JPEG ITU-T T.81 B.1.1.3; PNG ISO/IEC 15948 §5.2 (and IHDR §11.2.2); GIF89a §17;
 * WebP's RIFF container (RFC 9649 §2.5); TIFF 6.0 §2 (II*\0 or MM\0*); HEIF/AVIF as ISO base
 * media files whose first box is `ftyp` (ISO/IEC 14496-12 §4.3) with an image brand.
 */
import { FormatError, UnsupportedFormatError } from '../errors';
import { integer } from '../validate';

/**
 * The default pixel limit (width x height) of both decoders: 100 MP, far above any training
 * photograph (ImageNet's largest are about 20 MP), and the limit jpeg-js has by default. Decoding
 * 100 MP takes 300 MB of RGB output, plus 400 MB of RGBA from pngjs.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif';

/** How messages name each format. */
export const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  gif: 'GIF',
  webp: 'WebP',
  tiff: 'TIFF',
  avif: 'AVIF',
  heif: 'HEIF',
};

/** The error of a file that is no image format either decoder reads. */
export function unknownFormatError(bytes: Uint8Array, file: string): UnsupportedFormatError {
  const kind = bytes.length === 0 ? 'an empty file' : 'none of these';
  return new UnsupportedFormatError(
    `${file}: expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is ${kind}`,
  );
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  String.fromCharCode(...bytes.subarray(start, end));

/** The format of an image file's bytes, or null when no supported signature matches. */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return 'jpeg';
  }
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(ascii(bytes, 0, 6))) return 'gif';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') {
    return 'webp';
  }
  const tiff = bytes.length >= 4 ? ascii(bytes, 0, 4) : '';
  if (tiff === 'II*\0' || tiff === 'MM\0*') return 'tiff';
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'heif';
  }
  return null;
}

/** PNG: width and height are IHDR's first two fields, right after the signature. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || ascii(bytes, 12, 16) !== 'IHDR') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC); T.81 Table B.1. */
const isStartOfFrame = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** JPEG: walk the marker segments up to the frame header, which holds Y then X (T.81 B.2.2). */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return null;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos += 1; // fill byte (T.81 B.1.1.2)
      continue;
    }
    // Markers without a length: TEM and RST0-7 (T.81 Table B.1).
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (isStartOfFrame(marker)) {
      if (pos + 9 > bytes.length) return null;
      const height = (bytes[pos + 5] << 8) | bytes[pos + 6];
      const width = (bytes[pos + 7] << 8) | bytes[pos + 8];
      return { width, height };
    }
    pos += 2 + ((bytes[pos + 2] << 8) | bytes[pos + 3]);
  }
  return null;
}

/** Width and height from a JPEG's or PNG's header; null for other formats or no header. */
export function headerSize(bytes: Uint8Array): { width: number; height: number } | null {
  const format = imageFormat(bytes);
  if (format === 'jpeg') return jpegSize(bytes);
  if (format === 'png') return pngSize(bytes);
  return null;
}

/** Validates a pixel limit given as an option. */
export function maxPixelsOption(value: unknown): number {
  return integer('maxPixels', value ?? DEFAULT_MAX_PIXELS, 1);
}

/** @throws FormatError naming `file` and the limit when width x height exceeds `maxPixels`. */
export function checkPixelLimit(
  width: number,
  height: number,
  maxPixels: number,
  file: string,
): void {
  if (width * height > maxPixels) {
    throw new FormatError(
      `${file}: image of ${width}x${height} = ${width * height} pixels exceeds the limit of ` +
        `${maxPixels} pixels (maxPixels, --max-pixels)`,
    );
  }
}
