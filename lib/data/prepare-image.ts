/**
 * One image file to its cache entry: read, decode, resize to size x size, and the nine colour
 * moments of the result. The same function runs in the decode workers and, without workers, on
 * the main thread.
 */
import * as fs from 'node:fs';
import { AlexNetError } from '../errors';
import { decodeImage } from './decode';
import { type ResizePolicy, resizeImage } from './resize';
import { pixelMoments } from './rgb-stats';

export interface PreparedImage {
  /** size x size x 3 bytes, HWC RGB. */
  pixels: Uint8Array;
  /** See MOMENT_NAMES in rgb-stats.ts. */
  moments: number[];
}

/** @throws FormatError for a corrupt image, AlexNetError for an unreadable file; both name it. */
export function prepareImage(file: string, size: number, policy: ResizePolicy): PreparedImage {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AlexNetError(`${file}: cannot read the file (${code})`);
  }
  const image = resizeImage(decodeImage(bytes, file), size, policy);
  return { pixels: image.data, moments: pixelMoments(image.data) };
}
