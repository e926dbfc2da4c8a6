/**
 * Image files to pixels with sharp (libvips): the decoder used when sharp is installed (an
 * optionalDependency). Its JPEG decoder is libjpeg's (libvips links mozjpeg, libjpeg-turbo's
 * fork), with the "fancy" chroma upsampling Caffe's and Pillow's libjpeg apply, so its pixels are
 * Pillow's; it is about 4x faster than jpeg-js, and it reads WebP, AVIF, GIF (first frame) and
 * TIFF too.
 *
 * sharp's own colour management is turned off so that the pixels are the ones Pillow and Caffe
 * see: embedded ICC profiles are ignored, CMYK is read as ink amounts and converted by Pillow's
 * naive inverse, greyscale is replicated, alpha is composited over white (colour-convert.ts),
 * 16-bit samples are scaled to 8 bits by libvips. EXIF orientation is not applied (Caffe and
 * Pillow do not) unless asked for.
 *
 * sharp is loaded with require() on first use, not imported, so that the package loads, builds
 * and type-checks where it is not installed; SharpModule declares the part of its API we call
 * (sharp's index.d.ts, 0.35).
 */
import { AlexNetError, FormatError } from '../errors';
import { cmykToRgb, rgbaOverWhite } from './colour-convert';
import type { RgbImage } from './decode-js';
import { checkPixelLimit, FORMAT_NAMES, imageFormat, unknownFormatError } from './image-header';

interface SharpInputOptions {
  limitInputPixels: number;
  ignoreIcc: boolean;
  autoOrient: boolean;
  failOn: 'warning';
}

interface SharpPipeline {
  metadata(): Promise<{ width?: number; height?: number; space?: string; format?: string }>;
  pipelineColourspace(space: string): SharpPipeline;
  toColourspace(space: string): SharpPipeline;
  raw(options: { depth: 'uchar' }): SharpPipeline;
  toBuffer(options: { resolveWithObject: true }): Promise<{
    data: Buffer;
    info: { width: number; height: number; channels: number };
  }>;
}

export interface SharpModule {
  (input: Uint8Array, options: SharpInputOptions): SharpPipeline;
  versions: { sharp: string; vips: string };
  concurrency(threads?: number): number;
  cache(enabled: boolean): unknown;
}

let loaded: SharpModule | Error | undefined;

/** sharp's module, or why it cannot be loaded (not installed, or its binaries do not fit). */
export function loadSharp(): SharpModule | Error {
  if (loaded === undefined) {
    try {
      loaded = require('sharp') as SharpModule;
      // One libvips thread per image: the decode pool already runs one image per core, and more
      // threads per image would oversubscribe the cores. The operation cache only holds memory
      // here, since no image is decoded twice.
      loaded.concurrency(1);
      loaded.cache(false);
    } catch (error) {
      loaded = error instanceof Error ? error : new Error(String(error));
    }
  }
  return loaded;
}

export interface SharpDecodeSettings {
  maxPixels: number;
  autoOrient: boolean;
}

/**
 * Decodes an image file's bytes to RGB with sharp. `file` names the image in errors.
 * @throws FormatError for an unsupported, corrupt or over-limit image; AlexNetError when sharp
 * cannot be loaded.
 */
export async function decodeImageSharp(
  bytes: Uint8Array,
  file: string,
  settings: SharpDecodeSettings,
): Promise<RgbImage> {
  const sharp = loadSharp();
  if (sharp instanceof Error) {
    throw new AlexNetError(`${file}: the sharp decoder cannot be loaded (${sharp.message})`);
  }
  // Only the formats we list, by signature: libvips also reads SVG (which can reference other
  // files), PDF and more, none of which a training image is. HEIF needs HEVC, which sharp's
  // prebuilt libvips leaves out (patents).
  const format = imageFormat(bytes);
  if (format === null || format === 'heif') throw unknownFormatError(bytes, file);
  const options: SharpInputOptions = {
    limitInputPixels: settings.maxPixels,
    ignoreIcc: true,
    autoOrient: settings.autoOrient,
    failOn: 'warning',
  };
  try {
    // The header alone: the size is checked before any pixel is decoded.
    const header = await sharp(bytes, { ...options, limitInputPixels: 0 }).metadata();
    checkPixelLimit(header.width ?? 0, header.height ?? 0, settings.maxPixels, file);
    const cmyk = header.space === 'cmyk';
    const pipeline = sharp(bytes, options);
    const typed = cmyk
      ? pipeline.pipelineColourspace('cmyk').toColourspace('cmyk')
      : pipeline.toColourspace('srgb');
    const { data, info } = await typed
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data: toRgb(data, info.channels, cmyk, file), width: info.width, height: info.height };
  } catch (error) {
    if (error instanceof FormatError) throw error;
    throw new FormatError(
      `${file}: corrupt or unsupported ${FORMAT_NAMES[format]} (${firstLine(error)})`,
    );
  }
}

/** libvips joins its messages with newlines; the first says what went wrong. */
function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0];
}

/** sRGB with or without alpha, or CMYK ink amounts, to RGB (colour-convert.ts). */
function toRgb(data: Buffer, channels: number, cmyk: boolean, file: string): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (cmyk && channels === 4) return cmykToRgb(bytes);
  if (!cmyk && channels === 3) return bytes;
  if (!cmyk && channels === 4) return rgbaOverWhite(bytes);
  throw new FormatError(
    `${file}: ${channels}-channel ${cmyk ? 'CMYK' : 'RGB'} image is not supported`,
  );
}
