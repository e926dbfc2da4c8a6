/**
 * What the trainer reads: datasets that yield batches of network-ready tensors. The in-memory
 * dataset here serves decoded uint8 images (the MNIST default; the image cache of the data
 * pipeline yields the same ImageSet) through the native augment op: crop, mirror, mean and
 * scale, channel order.
 */

import { BatchBuffers } from '../batch-buffers';
import { ArgumentError } from '../errors';
import type { Normalisation } from '../io/preprocessing';
import { augment } from '../ops/augment';
import type { Rng } from '../random';
import { type Device, Tensor } from '../tensor';
import { type Shard, shareOf } from './shard';

/** Decoded images, uint8 HWC RGB, all of one size. */
export interface ImageSet {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  labels: Int32Array;
  classes: readonly string[];
}

export interface Batch {
  /** (n, 3, inputSize, inputSize) on the model's device. */
  x: Tensor;
  labels: Int32Array;
  n: number;
  /**
   * With a shard: the index in the global batch of this rank's first row, and the global batch's
   * size (`n` is this rank's share of it, possibly 0, when `x` holds nothing to read).
   */
  offset?: number;
  total?: number;
}

export interface Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  /** Files of the set left out because they could not be read or decoded. @default 0 */
  readonly skipped?: number;
  /**
   * One pass over the data in batches; shuffled with `rng` when given. With a `shard`, each batch
   * is the rank's share (shard.ts) of the batch one process would get: the same order and the
   * same random choices, drawn for every row of the global batch.
   */
  batches(batchSize: number, rng?: Rng, shard?: Shard): AsyncIterable<Batch>;
  dispose(): void;
}

/** Per-channel mean and standard deviation of a set's pixels, in 0-255 units. */
export function channelStats(set: ImageSet): { mean: number[]; std: number[] } {
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  const { images } = set;
  for (let i = 0; i < images.length; i += 3) {
    for (let c = 0; c < 3; ++c) {
      const v = images[i + c];
      sum[c] += v;
      sumSq[c] += v * v;
    }
  }
  const pixels = images.length / 3;
  const mean = sum.map((s) => s / pixels);
  const std = sumSq.map((s, c) => Math.sqrt(Math.max(s / pixels - mean[c] ** 2, 1e-6)));
  return { mean, std };
}

export interface InMemoryDatasetOptions {
  inputSize: number;
  device: Device;
  normalisation: Normalisation;
  /** Random crops of inputSize from the stored image (else the centre crop). @default false */
  randomCrop?: boolean;
  /** Random horizontal mirror. @default false */
  mirror?: boolean;
}

export class InMemoryDataset implements Dataset {
  readonly classes: readonly string[];
  private readonly inputs = new BatchBuffers((n) => {
    const size = this.options.inputSize;
    return { x: Tensor.zeros([n, 3, size, size], this.options.device) };
  });

  constructor(
    private readonly set: ImageSet,
    private readonly options: InMemoryDatasetOptions,
  ) {
    if (set.count === 0)
      throw new ArgumentError('Expected a non-empty dataset but received 0 images');
    if (set.height < options.inputSize || set.width < options.inputSize) {
      throw new ArgumentError(
        `Expected images of at least ${options.inputSize}x${options.inputSize} for inputSize ` +
          `but received ${set.width}x${set.height}`,
      );
    }
    this.classes = set.classes;
  }

  get length(): number {
    return this.set.count;
  }

  async *batches(batchSize: number, rng?: Rng, shard?: Shard): AsyncIterable<Batch> {
    const { count, height, width, images } = this.set;
    const order = Int32Array.from({ length: count }, (_, i) => i);
    if (rng) rng.shuffle(order);
    const imageBytes = height * width * 3;
    const size = this.options.inputSize;
    const staging = new Uint8Array(Math.min(batchSize, count) * imageBytes);
    for (let start = 0; start < count; start += batchSize) {
      const total = Math.min(batchSize, count - start);
      const crops = new Int32Array(2 * total);
      const mirror = new Uint8Array(total);
      for (let i = 0; i < total; ++i) {
        const random = rng && this.options.randomCrop;
        crops[2 * i] = random ? rng.below(height - size + 1) : (height - size) >> 1;
        crops[2 * i + 1] = random ? rng.below(width - size + 1) : (width - size) >> 1;
        mirror[i] = rng && this.options.mirror && rng.next() < 0.5 ? 1 : 0;
      }
      const { offset, count: n } = shard ? shareOf(total, shard) : { offset: 0, count: total };
      const labels = new Int32Array(n);
      for (let i = 0; i < n; ++i) {
        const index = order[start + offset + i];
        staging.set(images.subarray(index * imageBytes, (index + 1) * imageBytes), i * imageBytes);
        labels[i] = this.set.labels[index];
      }
      const x = this.input(Math.max(n, 1));
      const { mean, scale, bgr } = this.options.normalisation;
      if (n > 0) {
        augment(staging.subarray(0, n * imageBytes), { count: n, height, width }, x, {
          crops: crops.subarray(2 * offset, 2 * (offset + n)),
          mirror: mirror.subarray(offset, offset + n),
          mean,
          scale,
          bgr,
        });
      }
      yield shard ? { x, labels, n, offset, total } : { x, labels, n };
    }
  }

  /** The batch's input tensor: one set for the largest batch, views of it for smaller ones. */
  private input(n: number): Tensor {
    return this.inputs.get(n).x;
  }

  dispose(): void {
    this.inputs.dispose();
  }
}
