/**
 * The decoded-image cache: every image of a list decoded and resized once to size x size and
 * stored as uint8 HWC RGB in one file (`<name>.<size>-<policy>.cache`, image i at byte
 * i * size * size * 3), so epochs read pixels instead of decoding JPEGs, with a JSON manifest
 * beside it (`.cache.json`) that records:
 *
 * - what the cache was built from: each file's path, size and modification time, the stored size,
 *   the resize policy and the decoder (decoder.ts: sharp and jpeg-js give different pixels); a
 *   cache whose sources or settings changed is rebuilt;
 * - each image's state: its nine colour moments (rgb-stats.ts) and the CRC-32C of its pixels,
 *   or why it was skipped (unreadable or corrupt), or nothing yet;
 * - when complete, the colour statistics of all its images (mean, std, covariance, eigen-
 *   decomposition) for normalisation and the PCA colour augmentation.
 *
 * Building is resumable: the pixel file is sized up front, images land at their own offsets as
 * the decode pool returns them, and every couple of seconds the pixel file is fsynced and then
 * the manifest replaced atomically (io/atomic.ts). The manifest therefore never claims an image
 * whose pixels are not on disk, and an interrupted build (Ctrl-C, a crash, `signal`) continues
 * from its last checkpoint on the next open.
 *
 * Reading checks each image against its CRC-32C the first time this process reads it: io/
 * crc32c.ts ran at about 200 MB/s on our 2-core EPYC (load 11), so checking every read would
 * add about 0.1 s to each batch of 128 at 256 x 256 (25 MB); once per run is one pass over the
 * data. An image that fails (a flipped bit, a torn or lost write) is
 * decoded again from its source, written back, and handed out repaired: it is never trained on.
 * A truncated pixel file or manifest is found at open and rebuilt.
 */
import * as fs from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import * as path from 'node:path';
import { AlexNetError, fileWriteError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { crc32c } from '../io/crc32c';
import { RESIZE_POLICIES, type ResizePolicy } from '../io/preprocessing';
import { Progress } from '../progress';
import { integer } from '../validate';
import { DecodePool } from './decode-pool';
import { type DecodeOptions, type DecodeSettings, decodeSettings } from './decoder';
import { prepareImage } from './prepare-image';
import { type RgbStats, rgbStats } from './rgb-stats';

export interface ImageCacheOptions extends DecodeOptions {
  /** Folder of the cache files (created when missing). */
  dir: string;
  /** Base name of the cache files, e.g. 'train'. */
  name: string;
  /** Side of the stored images. */
  size: number;
  /** How images are brought to size x size (resize.ts). @default 'stretch' */
  policy?: ResizePolicy;
  /** Decode threads; 0 decodes on the calling thread. @default one per core */
  workers?: number;
  /** Where the build's progress bar goes; false for none. @default process.stderr */
  progress?: NodeJS.WritableStream | false;
  /** Human-readable lines: skipped images, why a cache is rebuilt or resumed. @default console.log */
  log?: (line: string) => void;
  /** Aborting stops the build after the images in flight and saves its progress. */
  signal?: AbortSignal;
}

/** What a source file was when its image was cached. */
interface SourceStamp {
  file: string;
  /** -1 when the file could not be examined. */
  bytes: number;
  mtimeMs: number;
}

/**
 * An image's state: its colour moments and the CRC-32C of its stored pixels, why it was skipped,
 * or null until it is built.
 */
type Entry = { moments: number[]; crc: number } | { skipped: string } | null;

interface Manifest {
  format: typeof FORMAT;
  version: number;
  size: number;
  policy: ResizePolicy;
  /** 'sharp' or 'js', with '+orient' when EXIF orientation was applied; absent: built by 'js'. */
  decoder?: string;
  /** The pixel file's name, in the manifest's folder. */
  pixels: string;
  sources: SourceStamp[];
  images: Entry[];
  /** Colour statistics of every cached image, once the build is complete. */
  rgb?: RgbStats;
}

const FORMAT = 'alexnet-cudnn image cache';
/** 2: entries carry a checksum. */
const VERSION = 2;
/** Seconds between checkpoints of a build: the most work an interruption can lose. */
const CHECKPOINT_SECONDS = 2;

function stamp(file: string): SourceStamp {
  try {
    const stats = fs.statSync(file);
    return { file, bytes: stats.size, mtimeMs: stats.mtimeMs };
  } catch {
    return { file, bytes: -1, mtimeMs: -1 };
  }
}

/** Why an existing manifest cannot be reused, or null when it can. */
function staleReason(old: Manifest, fresh: Manifest, pixelFile: string): string | null {
  if (old.format !== FORMAT || old.version !== VERSION) return 'it has another format version';
  if (old.size !== fresh.size || old.policy !== fresh.policy) {
    return `it holds ${old.size}x${old.size} '${old.policy}' images`;
  }
  // Caches from before the decoder was recorded were all built by jpeg-js.
  if ((old.decoder ?? 'js') !== fresh.decoder) {
    return `it was decoded by '${old.decoder ?? 'js'}' and the decoder is now '${fresh.decoder}'`;
  }
  if (old.sources.length !== fresh.sources.length) {
    return `it holds ${old.sources.length} images and the list has ${fresh.sources.length}`;
  }
  const changed = fresh.sources.findIndex((s, i) => {
    const o = old.sources[i];
    return o.file !== s.file || o.bytes !== s.bytes || o.mtimeMs !== s.mtimeMs;
  });
  if (changed >= 0) return `${fresh.sources[changed].file} is not the file it was built from`;
  const expected = fresh.sources.length * fresh.size * fresh.size * 3;
  if (!fs.existsSync(pixelFile) || fs.statSync(pixelFile).size !== expected) {
    return `its pixel file ${pixelFile} is missing or has the wrong size`;
  }
  return null;
}

function readManifest(file: string): Manifest | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

export class ImageCache {
  /** Bytes of one stored image. */
  readonly imageBytes: number;
  /** Images whose checksum this process has checked. */
  private readonly verified: Uint8Array;

  private constructor(
    private readonly manifest: Manifest,
    private readonly decode: DecodeSettings,
    private readonly handle: FileHandle,
    /** The manifest's path. */
    readonly file: string,
    private readonly log: (line: string) => void,
  ) {
    this.imageBytes = manifest.size * manifest.size * 3;
    this.verified = new Uint8Array(manifest.images.length);
  }

  /**
   * Opens the cache of `files` in `options.dir`, building it (or finishing an interrupted build)
   * when it is missing, incomplete, or was built from other files or settings.
   */
  static async open(files: readonly string[], options: ImageCacheOptions): Promise<ImageCache> {
    const size = integer('size', options.size, 1, 4096);
    const policy = options.policy ?? 'stretch';
    if (!RESIZE_POLICIES.includes(policy)) {
      throw new AlexNetError(
        `Expected 'stretch' or 'shorter' for policy but received ${JSON.stringify(policy)}`,
      );
    }
    if (files.length === 0) throw new AlexNetError(`Cache '${options.name}' has no images to hold`);
    const decode = decodeSettings(options);
    const log = options.log ?? ((line: string) => console.log(line));
    fs.mkdirSync(options.dir, { recursive: true });
    const base = path.join(options.dir, `${options.name}.${size}-${policy}.cache`);
    const manifestFile = `${base}.json`;
    const fresh: Manifest = {
      format: FORMAT,
      version: VERSION,
      size,
      policy,
      decoder: decode.autoOrient ? `${decode.decoder}+orient` : decode.decoder,
      pixels: path.basename(base),
      sources: files.map(stamp),
      images: files.map(() => null),
    };
    const old = readManifest(manifestFile);
    const reason = old ? staleReason(old, fresh, base) : 'it does not exist yet';
    let manifest = fresh;
    let handle: FileHandle;
    if (reason === null && old) {
      manifest = old;
      handle = await open(base, 'r+');
    } else {
      if (old) log(`rebuilding the image cache ${manifestFile}: ${reason}`);
      handle = await open(base, 'w+');
      try {
        await handle.truncate(files.length * size * size * 3);
      } catch (error) {
        await handle.close();
        throw fileWriteError(base, error, 'nothing was cached');
      }
    }
    const cache = new ImageCache(manifest, decode, handle, manifestFile, log);
    try {
      if (manifest.images.some((e) => e === null)) await cache.build(options, log);
      else cache.reportSkipped(log);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return cache;
  }

  /** Images held (including skipped ones: positions match the source list). */
  get count(): number {
    return this.manifest.images.length;
  }

  /** The decoder the cached images were decoded with ('+orient': EXIF orientation applied). */
  get decoder(): string {
    return this.manifest.decoder ?? 'js';
  }

  get size(): number {
    return this.manifest.size;
  }

  /** Whether image i was decoded (false: it was skipped as unreadable or corrupt). */
  isReady(i: number): boolean {
    const entry = this.manifest.images[i];
    return entry !== null && 'moments' in entry;
  }

  /** The images skipped while building, with the reason (the message names the file). */
  get skipped(): { file: string; reason: string }[] {
    const out: { file: string; reason: string }[] = [];
    this.manifest.images.forEach((entry, i) => {
      if (entry && 'skipped' in entry) {
        out.push({ file: this.manifest.sources[i].file, reason: entry.skipped });
      }
    });
    return out;
  }

  /**
   * Colour statistics of the decoded images among `indices` (all of them when omitted: the
   * statistics stored in the manifest).
   */
  rgbStats(indices?: ArrayLike<number>): RgbStats {
    if (!indices && this.manifest.rgb) return this.manifest.rgb;
    const positions = indices ? Array.from(indices) : this.manifest.images.map((_, i) => i);
    const moments = positions
      .map((i) => this.manifest.images[i])
      .filter((e): e is { moments: number[]; crc: number } => e !== null && 'moments' in e)
      .map((e) => e.moments);
    if (moments.length === 0) {
      throw new AlexNetError(`${this.file}: no image of the set could be decoded`);
    }
    return rgbStats(moments, this.manifest.size * this.manifest.size);
  }

  /**
   * Reads the images at `indices` (the first `count` of them) into `into`, back to back. Runs of
   * consecutive indices are read with one call; the reads run on libuv's thread pool, so they
   * proceed while the main thread computes.
   */
  async read(indices: ArrayLike<number>, count: number, into: Uint8Array): Promise<void> {
    const bytes = this.imageBytes;
    if (into.length < count * bytes) {
      throw new AlexNetError(
        `Expected a buffer of at least ${count * bytes} bytes for ${count} images but received ${into.length}`,
      );
    }
    const reads: Promise<unknown>[] = [];
    for (let start = 0; start < count; ) {
      let end = start + 1;
      while (end < count && indices[end] === indices[end - 1] + 1) end++;
      const index = indices[start];
      if (index < 0 || index >= this.count || !Number.isInteger(index)) {
        throw new AlexNetError(`Image index ${index} is outside the cache of ${this.count} images`);
      }
      reads.push(this.readFully(into, start * bytes, (end - start) * bytes, index * bytes));
      start = end;
    }
    await Promise.all(reads);
    for (let k = 0; k < count; ++k) {
      const i = indices[k];
      if (this.verified[i]) continue;
      const entry = this.manifest.images[i];
      const pixels = into.subarray(k * bytes, (k + 1) * bytes);
      if (entry && 'crc' in entry && crc32c(pixels) !== entry.crc) await this.repair(i, pixels);
      this.verified[i] = 1;
    }
  }

  /**
   * Image i failed its checksum: decodes it again from its source into `pixels`, and writes it
   * back to the pixel file (and, should the source now give other pixels, its new checksum and
   * moments to the manifest).
   */
  private async repair(i: number, pixels: Uint8Array): Promise<void> {
    const { file } = this.manifest.sources[i];
    let image: { pixels: Uint8Array; moments: number[] };
    try {
      const { size, policy } = this.manifest;
      image = await prepareImage({ file, size, policy, decode: this.decode });
    } catch (error) {
      throw new AlexNetError(
        `${this.file}: image ${i} failed its checksum and cannot be decoded again from ` +
          `${file}: ${(error as Error).message}`,
      );
    }
    pixels.set(image.pixels);
    await this.handle.write(image.pixels, 0, this.imageBytes, i * this.imageBytes);
    await this.handle.sync();
    this.log(`${this.file}: image ${i} (${file}) failed its checksum; decoded it again`);
    const crc = crc32c(image.pixels);
    const entry = this.manifest.images[i] as { crc: number };
    if (entry.crc !== crc) {
      this.manifest.images[i] = { moments: image.moments, crc };
      await writeFileAtomic(this.file, [JSON.stringify(this.manifest)]);
    }
  }

  private async readFully(into: Uint8Array, offset: number, length: number, position: number) {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(
        into,
        offset + done,
        length - done,
        position + done,
      );
      if (bytesRead === 0) throw new AlexNetError(`${this.file}: the pixel file is truncated`);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private reportSkipped(log: (line: string) => void): void {
    const skipped = this.skipped;
    if (skipped.length > 0) {
      log(
        `${this.file}: ${skipped.length} unreadable image(s) skipped when the cache was built ` +
          `(first: ${skipped[0].reason})`,
      );
    }
  }

  private async build(options: ImageCacheOptions, log: (line: string) => void): Promise<void> {
    const { images, sources, size, policy } = this.manifest;
    const todo = images.flatMap((entry, i) => (entry === null ? [i] : []));
    const already = images.length - todo.length;
    if (already > 0) {
      log(`resuming the image cache ${this.file}: ${already} of ${images.length} images done`);
    }
    const workers = Math.min(options.workers ?? DecodePool.defaultWorkers(), todo.length);
    const pool = new DecodePool(workers);
    const progress = new Progress(`caching ${options.name}`, todo.length, {
      stream: options.progress || undefined,
      silent: options.progress === false,
      unit: 'img',
    });
    let done = 0;
    let next = 0;
    let lastCheckpoint = performance.now();
    let checkpointing: Promise<void> | null = null;
    const checkpoint = async () => {
      // Pixels first, then the manifest that vouches for them.
      await this.handle.sync();
      await writeFileAtomic(this.file, [JSON.stringify(this.manifest)]);
    };
    const lane = async () => {
      while (next < todo.length && !options.signal?.aborted) {
        const i = todo[next++];
        const result = await pool.prepare(sources[i].file, size, policy, this.decode);
        if ('error' in result) {
          images[i] = { skipped: result.error };
          log(`skipping ${result.error}`);
        } else {
          await this.handle.write(result.pixels, 0, this.imageBytes, i * this.imageBytes);
          images[i] = { moments: result.moments, crc: crc32c(result.pixels) };
        }
        progress.update(++done);
        if (!checkpointing && performance.now() - lastCheckpoint > CHECKPOINT_SECONDS * 1000) {
          checkpointing = checkpoint().finally(() => {
            lastCheckpoint = performance.now();
            checkpointing = null;
          });
          await checkpointing;
        }
      }
    };
    let failure: unknown = null;
    try {
      // Two tasks per worker keep every worker busy while its last result travels back.
      await Promise.all(Array.from({ length: Math.max(1, 2 * workers) }, lane));
    } catch (error) {
      failure = error;
    } finally {
      progress.finish();
      await pool.close();
      await checkpointing;
    }
    if (failure) {
      // A full disk mid-build: keep what is on disk (the manifest vouches only for that), when
      // there is room left for the manifest itself.
      const kept = await checkpoint().then(
        () => images.filter((e) => e !== null).length,
        () => 0,
      );
      throw fileWriteError(
        path.join(path.dirname(this.file), this.manifest.pixels),
        failure,
        kept > 0
          ? `the ${kept} images cached so far are kept; run again to resume once there is room`
          : 'run again once there is room',
      );
    }
    if (options.signal?.aborted) {
      await checkpoint();
      throw new AlexNetError(
        `Building the image cache ${this.file} was interrupted after ${already + done} of ` +
          `${images.length} images; run again to resume`,
      );
    }
    if (images.some((e) => e !== null && 'moments' in e)) this.manifest.rgb = this.rgbStats();
    await checkpoint();
  }
}
