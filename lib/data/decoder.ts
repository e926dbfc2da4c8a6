/**
 * Which decoder turns image files into pixels, and decoding with it: `sharp` (libvips, when the
 * optional dependency is installed: libjpeg's pixels, 4x faster, more formats) or `js` (jpeg-js
 * and pngjs, always there). `auto`, the default, takes sharp when it loads and jpeg-js otherwise,
 * silently: an install without sharp still works, only slower. The resize after decoding is the
 * same for both (resize.ts), so the two differ only in what their decoders do.
 */
import { ArgumentError } from '../errors';
import { boolean } from '../validate';
import { decodeImageJs, type RgbImage } from './decode-js';
import { decodeImageSharp, loadSharp } from './decode-sharp';
import { maxPixelsOption } from './image-header';

export type DecoderName = 'sharp' | 'js';
export type DecoderChoice = DecoderName | 'auto';
export const DECODER_CHOICES: readonly DecoderChoice[] = ['auto', 'sharp', 'js'];

export interface DecodeOptions {
  /** 'sharp', 'js' (jpeg-js + pngjs), or 'auto': sharp when it can be loaded. @default 'auto' */
  decoder?: DecoderChoice;
  /** Images of more pixels (width x height) are refused before decoding. @default 100_000_000 */
  maxPixels?: number;
  /** Rotate and flip by the EXIF orientation (sharp only; Caffe and Pillow do not). @default false */
  autoOrient?: boolean;
}

/** DecodeOptions with defaults filled and the decoder chosen: what decode workers receive. */
export interface DecodeSettings {
  decoder: DecoderName;
  maxPixels: number;
  autoOrient: boolean;
}

/** The decoders available here, for diagnostics: sharp's version, or why it cannot load. */
export function decoders(): { default: DecoderName; sharp: string | { unavailable: string } } {
  const sharp = loadSharp();
  return sharp instanceof Error
    ? { default: 'js', sharp: { unavailable: sharp.message.split('\n')[0] } }
    : { default: 'sharp', sharp: `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}` };
}

/**
 * The decoder a choice means here. Resolving loads sharp on the calling thread, which for the
 * decode pool is the main thread, before any worker: sharp must be loaded there first, or glibc
 * unloads libvips when a worker that loaded it exits and the next one crashes (lovell/sharp#2263).
 * @throws ArgumentError for 'sharp' when sharp cannot load.
 */
export function resolveDecoder(choice: unknown = 'auto'): DecoderName {
  if (!DECODER_CHOICES.includes(choice as DecoderChoice)) {
    throw new ArgumentError(
      `Expected 'auto', 'sharp' or 'js' for decoder but received ${JSON.stringify(choice)}`,
    );
  }
  if (choice === 'js') return 'js';
  const sharp = loadSharp();
  if (!(sharp instanceof Error)) return 'sharp';
  if (choice === 'auto') return 'js';
  throw new ArgumentError(
    `Expected an installed sharp for decoder 'sharp' but it cannot be loaded ` +
      `(${sharp.message.split('\n')[0]}); run npm install sharp, or use decoder 'js'`,
  );
}

/** Validates DecodeOptions and fills their defaults. */
export function decodeSettings(options: DecodeOptions = {}): DecodeSettings {
  const decoder = resolveDecoder(options.decoder);
  const autoOrient = boolean('autoOrient', options.autoOrient ?? false);
  if (autoOrient && decoder === 'js') {
    throw new ArgumentError(
      'Expected decoder sharp for autoOrient but received the js decoder, which reads no EXIF',
    );
  }
  return { decoder, maxPixels: maxPixelsOption(options.maxPixels), autoOrient };
}

/**
 * Decodes an image file's bytes to RGB with the chosen decoder. `file` names the image in errors.
 * @throws FormatError for an unsupported, corrupt or over-limit image.
 */
export async function decodeImage(
  bytes: Uint8Array,
  file: string,
  options: DecodeOptions | DecodeSettings = {},
): Promise<RgbImage> {
  const settings = decodeSettings(options);
  if (settings.decoder === 'js') return decodeImageJs(bytes, file, settings);
  return decodeImageSharp(bytes, file, settings);
}
