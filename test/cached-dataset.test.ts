/**
 * Batches from the image cache: random crop, mirror and PCA colour shift exact on known pixels
 * (lossless PNGs of the stored size, so the cache holds exactly the pixels written), the centre
 * crop without augmentation for validation, and every image once per epoch.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { CachedDataset, type CachedDatasetOptions } from '../lib/data/cached-dataset';
import { ImageCache } from '../lib/data/image-cache';
import { pixelMoments, rgbStats } from '../lib/data/rgb-stats';
import type { ImageList } from '../lib/data/sources';
import { Rng } from '../lib/random';
import { expectClose } from './util/compare';
import { Rng as TestRng, testSeed } from './util/random';

const SIZE = 12;
const INPUT = 8;
const COUNT = 7;
const seed = testSeed();

describe(`CachedDataset (seed ${seed})`, () => {
  const random = new TestRng(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-batches-'));
  const pixels = Array.from({ length: COUNT }, () =>
    Uint8Array.from(random.uniform(SIZE * SIZE * 3, 0, 256), Math.floor),
  );
  const list: ImageList = { classes: ['a', 'b', 'c'], items: [] };
  pixels.forEach((rgb, i) => {
    const png = new PNG({ width: SIZE, height: SIZE });
    for (let p = 0; p < SIZE * SIZE; ++p) {
      png.data.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p);
      png.data[4 * p + 3] = 255;
    }
    const file = path.join(dir, `img${i}.png`);
    fs.writeFileSync(file, PNG.sync.write(png));
    list.items.push({ file, label: i % 3 });
  });
  let cache: ImageCache;
  beforeAll(async () => {
    cache = await ImageCache.open(
      list.items.map((i) => i.file),
      { dir, name: 'set', size: SIZE, workers: 0, progress: false, log: () => {} },
    );
  });
  afterAll(() => cache.close());

  const base: CachedDatasetOptions = {
    inputSize: INPUT,
    device: 'cpu',
    normalisation: { mean: [0, 0, 0], scale: [1, 1, 1], bgr: false },
  };
  const all = Int32Array.from({ length: COUNT }, (_, i) => i);

  /** float64 expectation of one image: crop at (y0, x0), mirrored or not, plus a shift. */
  function expected(i: number, y0: number, x0: number, flip: boolean, shift: number[]): number[] {
    const out: number[] = [];
    for (let c = 0; c < 3; ++c) {
      for (let y = 0; y < INPUT; ++y) {
        for (let x = 0; x < INPUT; ++x) {
          const sx = x0 + (flip ? INPUT - 1 - x : x);
          out.push(pixels[i][((y0 + y) * SIZE + sx) * 3 + c] + shift[c]);
        }
      }
    }
    return out;
  }

  async function collect(dataset: CachedDataset, batchSize: number, rng?: Rng) {
    const images: number[][] = [];
    const labels: number[] = [];
    for await (const batch of dataset.batches(batchSize, rng)) {
      const x = Array.from(batch.x.toArray());
      const per = 3 * INPUT * INPUT;
      for (let i = 0; i < batch.n; ++i) images.push(x.slice(i * per, (i + 1) * per));
      labels.push(...batch.labels);
    }
    return { images, labels };
  }

  test('validation: centre crops in order, no mirror, no shift', async () => {
    const dataset = new CachedDataset(cache, list, all, {
      ...base,
      randomCrop: true,
      mirror: true,
      pcaStd: 0.1,
    });
    const { images, labels } = await collect(dataset, 3);
    const centre = (SIZE - INPUT) >> 1;
    expect(labels).toEqual([0, 1, 2, 0, 1, 2, 0]);
    images.forEach((image, i) => {
      expect(image).toEqual(expected(i, centre, centre, false, [0, 0, 0]));
    });
    dataset.dispose();
  });

  test('training: shuffled, random crop, mirror and PCA shift exactly as drawn', async () => {
    const pcaStd = 0.1;
    const dataset = new CachedDataset(cache, list, all, {
      ...base,
      randomCrop: true,
      mirror: true,
      pcaStd,
    });
    const stats = rgbStats(pixels.map(pixelMoments), SIZE * SIZE);
    const { images, labels } = await collect(dataset, 3, new Rng(seed));

    // Replay the draws in the documented order: the shuffle, then per image crop y, crop x,
    // mirror, alpha_0..2.
    const rng = new Rng(seed);
    const order = rng.shuffle(Int32Array.from(all));
    const range = SIZE - INPUT + 1;
    Array.from(order).forEach((index, k) => {
      const y0 = rng.below(range);
      const x0 = rng.below(range);
      const flip = rng.next() < 0.5;
      const alpha = [0, 1, 2].map((i) => rng.gaussian(pcaStd) * stats.eigenvalues[i]);
      const shift = [0, 1, 2].map(
        (c) => 255 * alpha.reduce((s, a, i) => s + stats.eigenvectors[c][i] * a, 0),
      );
      expect(labels[k]).toBe(index % 3);
      // The shift reaches the op as float32 and is added in float32 to values below 300.
      expectClose(images[k], expected(index, y0, x0, flip, shift), { rtol: 0, atol: 1e-4 });
    });
    dataset.dispose();
  });

  test('each augmentation can be turned off', async () => {
    const plain = new CachedDataset(cache, list, all, base);
    const { images } = await collect(plain, 4, new Rng(seed));
    const order = new Rng(seed).shuffle(Int32Array.from(all));
    const centre = (SIZE - INPUT) >> 1;
    images.forEach((image, k) => {
      expect(image).toEqual(expected(order[k], centre, centre, false, [0, 0, 0]));
    });
    plain.dispose();
  });

  test('normalisation and channel order are applied; skipped images are left out and counted', async () => {
    const skippedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-batches-'));
    const broken = path.join(skippedDir, 'broken.png');
    fs.writeFileSync(broken, 'not a png');
    const withBroken: ImageList = {
      classes: list.classes,
      items: [...list.items.slice(0, 2), { file: broken, label: 2 }],
    };
    const small = await ImageCache.open(
      withBroken.items.map((i) => i.file),
      { dir: skippedDir, name: 'set', size: SIZE, workers: 0, progress: false, log: () => {} },
    );
    const dataset = new CachedDataset(small, withBroken, Int32Array.from([0, 1, 2]), {
      ...base,
      normalisation: { mean: [10, 20, 30], scale: [0.5, 0.25, 2], bgr: true },
    });
    expect(dataset.length).toBe(2);
    expect(dataset.skipped).toBe(1);
    const { images } = await collect(dataset, 8);
    const centre = (SIZE - INPUT) >> 1;
    const raw = expected(1, centre, centre, false, [0, 0, 0]);
    const plane = INPUT * INPUT;
    const normalised = [2, 1, 0].flatMap((c) =>
      raw.slice(c * plane, (c + 1) * plane).map((v) => (v - [10, 20, 30][c]) * [0.5, 0.25, 2][c]),
    );
    expect(images[1]).toEqual(normalised);
    dataset.dispose();
    await small.close();
  });

  test('a stored size below the input size is an error', () => {
    expect(() => new CachedDataset(cache, list, all, { ...base, inputSize: SIZE + 1 })).toThrow(
      `Expected integer between 1 and ${SIZE} for inputSize but received ${SIZE + 1} of type number`,
    );
  });
});
