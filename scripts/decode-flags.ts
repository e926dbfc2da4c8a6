/**
 * The image-decoding flags the train and predict commands share (--decoder, --auto-orient,
 * --max-pixels), and the line that says which decoder a run uses and why.
 */
import {
  DECODER_CHOICES,
  type DecoderChoice,
  type DecodeSettings,
  decoders,
  decodeSettings,
} from '../lib/data/decoder';
import { DEFAULT_MAX_PIXELS } from '../lib/data/image-header';
import { AlexNetError } from '../lib/errors';
import type { Flags } from './cli';

export const DECODE_FLAGS: Flags = {
  decoder: {
    type: 'string',
    description:
      "image decoder: 'sharp' (libvips), 'js' (jpeg-js + pngjs), or 'auto': sharp when installed",
    default: 'auto',
    placeholder: 'name',
  },
  'auto-orient': {
    type: 'boolean',
    description: 'rotate images by their EXIF orientation (sharp only; Caffe and Pillow do not)',
  },
  'max-pixels': {
    type: 'string',
    description: 'refuse images of more pixels, from their header (decompression bombs)',
    default: String(DEFAULT_MAX_PIXELS),
    placeholder: 'n',
  },
};

/** The decode settings of the flags' values (strings, as a run's config stores them). */
export function decodeFlags(values: {
  decoder: string;
  autoOrient: boolean;
  maxPixels: string;
}): DecodeSettings {
  if (!DECODER_CHOICES.includes(values.decoder as DecoderChoice)) {
    throw new AlexNetError(
      `Expected 'auto', 'sharp' or 'js' for --decoder but received '${values.decoder}'`,
    );
  }
  const maxPixels = Number(values.maxPixels);
  if (values.maxPixels === '' || !Number.isInteger(maxPixels) || maxPixels < 1) {
    throw new AlexNetError(
      `Expected positive integer for --max-pixels but received '${values.maxPixels}'`,
    );
  }
  if (values.autoOrient && values.decoder === 'js') {
    throw new AlexNetError('--auto-orient needs --decoder sharp or auto: jpeg-js reads no EXIF');
  }
  return decodeSettings({
    decoder: values.decoder as DecoderChoice,
    autoOrient: values.autoOrient,
    maxPixels,
  });
}

/** "decoder: sharp 0.35.5, libvips 8.18.7", or js and why sharp is not used. */
export function decoderLine(settings: DecodeSettings): string {
  const available = decoders();
  const orient = settings.autoOrient ? ', EXIF orientation applied' : '';
  if (settings.decoder === 'sharp') return `decoder: ${available.sharp}${orient}`;
  const why =
    typeof available.sharp === 'string'
      ? 'chosen with --decoder js'
      : `sharp cannot be loaded: ${available.sharp.unavailable}`;
  return `decoder: jpeg-js + pngjs (${why})`;
}
