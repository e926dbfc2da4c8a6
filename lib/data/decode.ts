/**
 * Image files to pixels: JPEG (jpeg-js) and PNG (pngjs) bytes decoded to 8-bit RGB, HWC, for the
 * data pipeline's cache and for prediction. The format is told by the file's signature, not its
 * name, so a PNG saved as `.jpg` still decodes.
 *
 * - JPEG: greyscale is replicated to three channels, and Adobe CMYK / YCCK is converted to RGB by
 *   jpeg-js (its `getData` reads the Adobe APP14 marker for the colour transform).
 * - PNG: palette, greyscale and 16-bit images come out of pngjs as 8-bit RGBA (16-bit samples
 *   rounded to 8 bits), and alpha is composited over white: a transparent PNG is drawn for people
 *   on a white page, and white is the background the photographs of ImageNet's product-like
 *   classes have. Compositing over black would turn every transparent background into a dark
 *   one, which a photograph of the same object never has.
 *
 * Anything else, and any file the decoders reject (truncated, corrupt), is a FormatError naming
 * the file, so the pipeline can report it and skip it.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FormatError, UnsupportedFormatError } from '../errors';

/** An 8-bit RGB image, rows top to bottom, HWC: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** JPEG files start with SOI (FF D8) followed by a marker (FF): ITU-T T.81, B.1.1.3 and B.2.1. */
function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Decodes a JPEG or PNG file's bytes to RGB. `file` names the image in errors.
 * @throws UnsupportedFormatError for another format (or no bytes), FormatError for a truncated or
 *   corrupt file.
 */
export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  if (isJpeg(bytes)) return decodeJpeg(bytes, file);
  if (isPng(bytes)) return decodePng(bytes, file);
  const kind = bytes.length === 0 ? 'an empty file' : 'neither a JPEG nor a PNG file';
  throw new UnsupportedFormatError(`${file}: expected a JPEG or PNG image but the file is ${kind}`);
}

function decodeJpeg(bytes: Uint8Array, file: string): RgbImage {
  let image: { width: number; height: number; data: Uint8Array };
  try {
    // jpeg-js refuses images over maxResolutionInMP and caps its own allocations at
    // maxMemoryUsageInMB; 100 MP (its default) is far above any training photograph, and a
    // 100 MP image needs ~400 MB of component buffers plus the output.
    image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: 100,
      maxMemoryUsageInMB: 1024,
    });
  } catch (error) {
    throw new FormatError(`${file}: corrupt or unsupported JPEG (${(error as Error).message})`);
  }
  if (image.width === 0 || image.height === 0) {
    throw new FormatError(`${file}: JPEG of size ${image.width}x${image.height} has no pixels`);
  }
  return { data: image.data, width: image.width, height: image.height };
}

function decodePng(bytes: Uint8Array, file: string): RgbImage {
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new FormatError(
      `${file}: corrupt or truncated PNG (${(error as Error).message || String(error)})`,
    );
  }
  const { width, height, data: rgba } = png;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    const alpha = rgba[p + 3];
    if (alpha === 255) {
      data[q] = rgba[p];
      data[q + 1] = rgba[p + 1];
      data[q + 2] = rgba[p + 2];
    } else {
      // Over white: c * a + 255 * (1 - a) with a = alpha / 255, rounded to nearest.
      const white = 255 * (255 - alpha);
      data[q] = Math.round((rgba[p] * alpha + white) / 255);
      data[q + 1] = Math.round((rgba[p + 1] * alpha + white) / 255);
      data[q + 2] = Math.round((rgba[p + 2] * alpha + white) / 255);
    }
  }
  return { data, width, height };
}
