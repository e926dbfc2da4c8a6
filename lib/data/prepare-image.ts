/**
 * One image file to its cache entry: read, decode, resize to size x size, and the nine colour
 * moments of the result, with the decoder of `decode` (decoder.ts). The same function runs in the
 * decode workers and, without workers, on the main thread.
 */
import * as fs from 'node:fs';
import { AlexNetError } from '../errors';
import { type DecodeSettings, decodeImageAsync } from './decoder';
import { type ResizePolicy, resizeImage } from './resize';
import { pixelMoments } from './rgb-stats';

export interface PreparedImage {
  /** size x size x 3 bytes, HWC RGB. */
  pixels: Uint8Array;
  /** pixelMoments of `pixels` (rgb-stats.ts). */
  moments: number[];
}

/** @throws FormatError for a corrupt image, AlexNetError for an unreadable file; both name it. */
export async function prepareImage(
  file: string,
  size: number,
  policy: ResizePolicy,
  decode: DecodeSettings,
): Promise<PreparedImage> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AlexNetError(`${file}: cannot read the file (${code})`);
  }
  const image = resizeImage(await decodeImageAsync(bytes, file, decode), size, policy);
  return { pixels: image.data, moments: pixelMoments(image.data) };
}
