/**
 * Image files to pixels with the JavaScript decoders: JPEG (jpeg-js) and PNG (pngjs) bytes decoded
 * to 8-bit RGB, HWC, for the data pipeline's cache and for prediction. This is the fallback when
 * sharp is not installed and the `js` choice of decoder.ts; the format is told by the file's
 * signature, not its name, so a PNG saved as `.jpg` still decodes.
 *
 * - JPEG: greyscale is replicated to three channels, and Adobe CMYK / YCCK is converted to RGB by
 *   jpeg-js (its `getData` reads the Adobe APP14 marker for the colour transform). jpeg-js
 *   upsamples subsampled chroma by pixel replication, not libjpeg's "fancy" triangle filter, so
 *   at colour edges of 4:2:0 and 4:2:2 images it differs from libjpeg (Pillow, sharp) by tens of
 *   levels.
 * - PNG: palette, greyscale and 16-bit images come out of pngjs as 8-bit RGBA (16-bit samples
 *   rounded to 8 bits), and alpha is composited over white (colour-convert.ts).
 *
 * The header's size is checked against `maxPixels` before anything is decoded (pngjs allocates
 * the whole RGBA image first). Any other format, and any file the decoders reject (truncated,
 * corrupt), is a FormatError naming the file, so the pipeline can report it and skip it.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FormatError, UnsupportedFormatError } from '../errors';
import { rgbaOverWhite } from './colour-convert';
import {
  checkPixelLimit,
  FORMAT_NAMES,
  headerSize,
  imageFormat,
  maxPixelsOption,
  unknownFormatError,
} from './image-header';

/** An 8-bit RGB image, rows top to bottom, HWC: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface JsDecodeOptions {
  /** Images of more pixels (width x height) are refused before decoding. @default 100_000_000 */
  maxPixels?: number;
}

/**
 * Decodes a JPEG or PNG file's bytes to RGB with jpeg-js / pngjs. `file` names the image in
 * errors.
 * @throws UnsupportedFormatError for a format it does not read (or no bytes), FormatError for an
 * image over the pixel limit, or a truncated or corrupt file.
 */
export function decodeImageJs(
  bytes: Uint8Array,
  file: string,
  options?: JsDecodeOptions,
): RgbImage {
  const maxPixels = maxPixelsOption(options?.maxPixels);
  const format = imageFormat(bytes);
  if (format === 'jpeg' || format === 'png') {
    const size = headerSize(bytes);
    if (size) checkPixelLimit(size.width, size.height, maxPixels, file);
    return format === 'jpeg' ? decodeJpeg(bytes, file, maxPixels) : decodePng(bytes, file);
  }
  if (format !== null && format !== 'heif') {
    throw new UnsupportedFormatError(
      `${file}: ${FORMAT_NAMES[format]} images need the sharp decoder (npm install sharp, and ` +
        `decoder 'sharp' or 'auto'); the js decoder reads JPEG and PNG only`,
    );
  }
  throw unknownFormatError(bytes, file);
}

function decodeJpeg(bytes: Uint8Array, file: string, maxPixels: number): RgbImage {
  let image: { width: number; height: number; data: Uint8Array };
  try {
    // The header check above comes first; jpeg-js's own limit is the backstop for a file whose
    // frame header we could not find. maxMemoryUsageInMB caps its component buffers.
    image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
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
  return { data: rgbaOverWhite(png.data), width: png.width, height: png.height };
}
