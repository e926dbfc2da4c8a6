/**
 * One image to its cache entry: read (or take the bytes given), decode with the decoder of
 * `decode` (decoder.ts), resize to size x size, and the nine colour moments of the result. The
 * same function runs in the decode workers and, without workers, on the main thread.
 */
import * as fs from 'node:fs';
import { AlexNetError, UnsupportedFormatError } from '../errors';
import type { ResizePolicy } from '../io/preprocessing';
import { type DecodeSettings, decodeImage } from './decoder';
import { resizeImage } from './resize';
import { pixelMoments } from './rgb-stats';

export interface PreparedImage {
  /** size x size x 3 bytes, HWC RGB. */
  pixels: Uint8Array;
  /** pixelMoments of `pixels` (rgb-stats.ts). */
  moments: number[];
}

/** One image to prepare, as the decode pool sends it to a worker. */
export interface PrepareTask {
  /** The file to read, or the name that stands for `bytes` in errors. */
  file: string;
  /** The image's bytes, when they are not to be read from `file`. */
  bytes?: Uint8Array;
  size: number;
  policy: ResizePolicy;
  decode: DecodeSettings;
}

/** Why an image could not be prepared; the message names it. */
export interface PrepareFailure {
  error: string;
  /** The bytes are in no format the decoder reads (UnsupportedFormatError), as opposed to corrupt. */
  unsupported: boolean;
}

/** @throws FormatError for a corrupt image, AlexNetError for an unreadable file; both name it. */
export async function prepareImage(task: PrepareTask): Promise<PreparedImage> {
  const { file, size, policy, decode } = task;
  let bytes = task.bytes;
  if (!bytes) {
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new AlexNetError(`${file}: cannot read the file (${code})`);
    }
  }
  const image = resizeImage(await decodeImage(bytes, file, decode), size, policy);
  return { pixels: image.data, moments: pixelMoments(image.data) };
}

/** prepareImage with its error as a value, for replies that cross a thread boundary. */
export async function tryPrepareImage(task: PrepareTask): Promise<PreparedImage | PrepareFailure> {
  try {
    return await prepareImage(task);
  } catch (error) {
    return {
      error: (error as Error).message ?? String(error),
      unsupported: error instanceof UnsupportedFormatError,
    };
  }
}
