/**
 * A dataset served from the image cache (image-cache.ts) with AlexNet's training augmentation
 * (Krizhevsky et al. 2012, §4.1): a random inputSize crop of each stored image, a horizontal
 * mirror with probability 1/2, and the PCA colour shift; then mean subtraction, scale and channel
 * order. All of it is one call of the native augment op per batch; TypeScript only draws the
 * random choices. Without an rng (validation) every image gets the centre crop and nothing else.
 *
 * Prefetch: while batch k is augmented and trained on, the pixels of batch k + 1 are already
 * being read from the cache file, on libuv's thread pool, into a second staging buffer. What
 * overlaps is the file reading (a copy from the page cache, or disk I/O); the augment op itself
 * runs when the trainer asks for the next batch, on the same cores as training.
 */

import { BatchBuffers } from '../batch-buffers';
import { AlexNetError } from '../errors';
import type { Normalisation } from '../io/preprocessing';
import { augment } from '../ops/augment';
import type { Rng } from '../random';
import { type Device, Tensor } from '../tensor';
import { finiteNumber, integer } from '../validate';
import type { Batch, Dataset } from './dataset';
import type { ImageCache } from './image-cache';
import { type RgbStats, rgbShift } from './rgb-stats';
import { type Shard, shareOf } from './shard';
import type { ImageList } from './sources';

export interface CachedDatasetOptions {
  inputSize: number;
  device: Device;
  normalisation: Normalisation;
  /** Random crops of inputSize when batches() gets an rng (else the centre crop). @default false */
  randomCrop?: boolean;
  /** Random horizontal mirror when batches() gets an rng. @default false */
  mirror?: boolean;
  /**
   * Standard deviation of the PCA colour shift's alpha when batches() gets an rng; 0 for none.
   * The paper's value is 0.1. @default 0
   */
  pcaStd?: number;
  /** The eigen-decomposition the colour shift follows. @default the cache's statistics of the set */
  pca?: Pick<RgbStats, 'eigenvalues' | 'eigenvectors'>;
}

export class CachedDataset implements Dataset {
  readonly classes: readonly string[];
  /** Images of the set that could not be read or decoded, and are left out. */
  readonly skipped: number;
  private readonly indices: Int32Array;
  private readonly labels: Int32Array;
  private readonly pca: Pick<RgbStats, 'eigenvalues' | 'eigenvectors'> | null;
  private readonly pcaStd: number;
  private readonly inputs = new BatchBuffers((n) => {
    const size = this.options.inputSize;
    return { x: Tensor.zeros([n, 3, size, size], this.options.device) };
  });
  /** The staging buffers of the last pass, for the next: fresh ones would be page-faulted in. */
  private spare: Uint8Array[] | null = null;

  /**
   * @param list every image of the cache, in cache order (for the labels)
   * @param indices the positions in the cache that form this set
   */
  constructor(
    private readonly cache: ImageCache,
    list: ImageList,
    indices: Int32Array,
    private readonly options: CachedDatasetOptions,
  ) {
    if (list.items.length !== cache.count) {
      throw new AlexNetError(
        `Expected a list of the cache's ${cache.count} images but received ${list.items.length}`,
      );
    }
    integer('inputSize', options.inputSize, 1, cache.size);
    this.pcaStd = finiteNumber('pcaStd', options.pcaStd ?? 0, 0);
    const ready = Array.from(indices).filter((i) => cache.isReady(i));
    if (ready.length === 0) {
      throw new AlexNetError(
        `None of the ${indices.length} images of the set could be decoded (see ${cache.file})`,
      );
    }
    this.indices = Int32Array.from(ready);
    this.labels = Int32Array.from(list.items, (item) => item.label);
    this.skipped = indices.length - ready.length;
    this.classes = list.classes;
    this.pca = this.pcaStd > 0 ? (options.pca ?? cache.rgbStats(this.indices)) : null;
  }

  get length(): number {
    return this.indices.length;
  }

  async *batches(batchSize: number, rng?: Rng, shard?: Shard): AsyncIterable<Batch> {
    integer('batchSize', batchSize, 1);
    const order = Int32Array.from(this.indices);
    if (rng) rng.shuffle(order);
    const count = order.length;
    const size = this.cache.size;
    const inputSize = this.options.inputSize;
    const bytes = this.cache.imageBytes;
    const capacity = Math.min(batchSize, count);
    // Two passes at once (not something the trainer does) each get their own buffers.
    const buffers =
      this.spare && this.spare[0].length >= capacity * bytes
        ? this.spare
        : [new Uint8Array(capacity * bytes), new Uint8Array(capacity * bytes)];
    this.spare = null;
    const crops = new Int32Array(2 * capacity);
    const mirror = new Uint8Array(capacity);
    const shift = new Float32Array(3 * capacity);
    const centre = (size - inputSize) >> 1;
    const range = size - inputSize + 1;
    const randomCrop = Boolean(rng && this.options.randomCrop);
    const randomMirror = Boolean(rng && this.options.mirror);
    const colourShift = rng && this.pca ? this.pca : null;
    // The rows of batch `batch` this process takes: all of them, or the shard's share.
    const share = (batch: number) => {
      const total = Math.min(batchSize, count - batch * batchSize);
      return { total, ...(shard ? shareOf(total, shard) : { offset: 0, count: total }) };
    };
    const load = (batch: number) => {
      const { offset, count: n } = share(batch);
      const start = batch * batchSize + offset;
      if (n === 0) return Promise.resolve();
      return this.cache.read(order.subarray(start, start + n), n, buffers[batch % 2]);
    };

    const batchCount = Math.ceil(count / batchSize);
    let reading: Promise<void> | null = load(0);
    try {
      for (let b = 0; b < batchCount; ++b) {
        await reading;
        reading = b + 1 < batchCount ? load(b + 1) : null;
        const start = b * batchSize;
        const { total, offset, count: n } = share(b);
        // Every row's choices are drawn, in row order, so a shard gets the ones one process would.
        for (let i = 0; i < total; ++i) {
          crops[2 * i] = randomCrop ? rng!.below(range) : centre;
          crops[2 * i + 1] = randomCrop ? rng!.below(range) : centre;
          mirror[i] = randomMirror && rng!.next() < 0.5 ? 1 : 0;
          if (colourShift) rgbShift(colourShift, this.pcaStd, rng!, 1, shift.subarray(3 * i));
        }
        const labels = Int32Array.from(
          { length: n },
          (_, i) => this.labels[order[start + offset + i]],
        );
        const x = this.input(Math.max(n, 1));
        const { mean, scale, bgr } = this.options.normalisation;
        if (n > 0) {
          augment(
            buffers[b % 2].subarray(0, n * bytes),
            { count: n, height: size, width: size },
            x,
            {
              crops: crops.subarray(2 * offset, 2 * (offset + n)),
              mirror: mirror.subarray(offset, offset + n),
              rgbShift: colourShift ? shift.subarray(3 * offset, 3 * (offset + n)) : undefined,
              mean,
              scale,
              bgr,
            },
          );
        }
        yield shard ? { x, labels, n, offset, total } : { x, labels, n };
      }
    } finally {
      // A consumer that stops early leaves one read in flight; let it land before the buffers go.
      await reading?.catch(() => undefined);
      this.spare = buffers;
    }
  }

  /** The batch's input tensor: one set for the largest batch, views of it for smaller ones. */
  private input(n: number): Tensor {
    return this.inputs.get(n).x;
  }

  dispose(): void {
    this.inputs.dispose();
    this.spare = null;
  }
}
