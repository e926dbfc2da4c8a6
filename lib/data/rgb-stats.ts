/**
 * The colour statistics of a training set: per-channel mean and standard deviation (for input
 * normalisation) and the RGB covariance with its eigen-decomposition (for the PCA colour
 * augmentation of Krizhevsky et al. 2012, §4.1).
 *
 * Each cached image contributes nine integer moments (the sums of r, g, b and of their six
 * products over its pixels); a set's statistics are sums of those. The sums are exact in float64:
 * one 256 x 256 image's largest moment is 65536 * 255^2 < 2^32, so 2^21 (two million) images stay
 * below 2^53. The statistics of any subset (a train/validation split) therefore come from the
 * stored moments without reading a pixel again.
 *
 * Units follow fb.resnet.torch (datasets/imagenet.lua, transforms.lua `Lighting`), the common
 * implementation of the paper's augmentation: the covariance and its eigenvalues are those of
 * pixel values scaled to [0, 1] (ImageNet's are about 0.2175, 0.0188, 0.0045), and the shift
 * added to an image is `eigenvectors * (alpha .* eigenvalues)` in the same units, with
 * alpha ~ N(0, sigma), sigma = 0.1. `rgbShift` returns it in 0-255 units for the augment op.
 */
import { AlexNetError } from '../errors';
import type { Rng } from '../random';

/** Moments of one image's pixels, in this order. */
export const MOMENT_NAMES = ['r', 'g', 'b', 'rr', 'gg', 'bb', 'rg', 'rb', 'gb'] as const;

/** The nine moments of HWC RGB `pixels` (see MOMENT_NAMES). */
export function pixelMoments(pixels: Uint8Array): number[] {
  let r = 0;
  let g = 0;
  let b = 0;
  let rr = 0;
  let gg = 0;
  let bb = 0;
  let rg = 0;
  let rb = 0;
  let gb = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    const pr = pixels[i];
    const pg = pixels[i + 1];
    const pb = pixels[i + 2];
    r += pr;
    g += pg;
    b += pb;
    rr += pr * pr;
    gg += pg * pg;
    bb += pb * pb;
    rg += pr * pg;
    rb += pr * pb;
    gb += pg * pb;
  }
  return [r, g, b, rr, gg, bb, rg, rb, gb];
}

/** A 3 x 3 matrix as rows. */
export type Matrix3 = [
  [number, number, number],
  [number, number, number],
  [number, number, number],
];

export interface RgbStats {
  /** Pixels the statistics cover. */
  pixels: number;
  /** Per-channel mean, RGB, 0-255 units. */
  mean: [number, number, number];
  /** Per-channel (population) standard deviation, RGB, 0-255 units. */
  std: [number, number, number];
  /** Population covariance of RGB values scaled to [0, 1]. */
  covariance: Matrix3;
  /** Eigenvalues of `covariance`, in descending order. */
  eigenvalues: [number, number, number];
  /** Unit eigenvectors as columns: `eigenvectors[c][i]` is channel c of the i-th vector. */
  eigenvectors: Matrix3;
}

/** Sums the moments of several images (each a MOMENT_NAMES array) and their pixel count. */
export function rgbStats(moments: Iterable<readonly number[]>, pixelsPerImage: number): RgbStats {
  const sum = new Array<number>(9).fill(0);
  let images = 0;
  for (const m of moments) {
    for (let k = 0; k < 9; ++k) sum[k] += m[k];
    images++;
  }
  if (images === 0) throw new AlexNetError('Colour statistics need at least one image');
  const n = images * pixelsPerImage;
  const mean = [sum[0] / n, sum[1] / n, sum[2] / n];
  // E[xy] - E[x]E[y] on 0-255 values, then / 255^2. The sums are exact integers, so the only
  // cancellation is of two float64 numbers of ~1e4 whose difference is ~1e3: ~1e-12 relative.
  const second = (k: number, a: number, b: number) => sum[k] / n - mean[a] * mean[b];
  const rr = second(3, 0, 0);
  const gg = second(4, 1, 1);
  const bb = second(5, 2, 2);
  const rg = second(6, 0, 1);
  const rb = second(7, 0, 2);
  const gb = second(8, 1, 2);
  const s = 255 * 255;
  const covariance: Matrix3 = [
    [rr / s, rg / s, rb / s],
    [rg / s, gg / s, gb / s],
    [rb / s, gb / s, bb / s],
  ];
  const { values, vectors } = symmetricEigen3(covariance);
  return {
    pixels: n,
    mean: mean as [number, number, number],
    std: [rr, gg, bb].map((v) => Math.sqrt(Math.max(v, 0))) as [number, number, number],
    covariance,
    eigenvalues: values,
    eigenvectors: vectors,
  };
}

/**
 * Eigen-decomposition of a symmetric 3 x 3 matrix by cyclic Jacobi rotations (Golub & Van Loan,
 * Matrix Computations, 4th ed., §8.5.2): each rotation zeroes one off-diagonal entry; sweeps
 * repeat until the off-diagonal part is below float64 resolution (a handful of sweeps: Jacobi
 * converges quadratically). Eigenvalues are returned in descending order with their unit
 * eigenvectors as columns, each signed so that its largest component is positive.
 */
export function symmetricEigen3(matrix: Matrix3): {
  values: [number, number, number];
  vectors: Matrix3;
} {
  const a = matrix.map((row) => [...row]);
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  const norm = Math.sqrt(a.flat().reduce((t, x) => t + x * x, 0));
  for (let sweep = 0; sweep < 50; ++sweep) {
    const off = Math.sqrt(2 * (a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2));
    if (off <= 1e-17 * norm || off === 0) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      if (a[p][q] === 0) continue;
      // The rotation angle of G&VL Algorithm 8.5.1 (symSchur2), in its stable form.
      const tau = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
      const c = 1 / Math.sqrt(1 + t * t);
      const s = t * c;
      for (let k = 0; k < 3; ++k) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; ++k) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; ++k) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[j][j] - a[i][i]);
  const values = order.map((i) => a[i][i]) as [number, number, number];
  const vectors = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ] as Matrix3;
  order.forEach((i, col) => {
    const column = [v[0][i], v[1][i], v[2][i]];
    const largest = column.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
    const sign = largest < 0 ? -1 : 1;
    for (let k = 0; k < 3; ++k) vectors[k][col] = sign * column[k];
  });
  return { values, vectors };
}

/**
 * Draws the PCA colour shifts of `count` images into `out` (three per image, RGB, 0-255 units):
 * 255 * sum_i eigenvectors[:, i] * alpha_i * eigenvalues[i], alpha_i ~ N(0, std), drawn from
 * `rng` in the order image 0 alpha_0..2, image 1 alpha_0..2, ...
 */
export function rgbShift(
  stats: Pick<RgbStats, 'eigenvalues' | 'eigenvectors'>,
  std: number,
  rng: Rng,
  count: number,
  out: Float32Array,
): void {
  const { eigenvalues: l, eigenvectors: p } = stats;
  for (let n = 0; n < count; ++n) {
    const a0 = rng.gaussian(std) * l[0];
    const a1 = rng.gaussian(std) * l[1];
    const a2 = rng.gaussian(std) * l[2];
    for (let c = 0; c < 3; ++c) out[3 * n + c] = 255 * (p[c][0] * a0 + p[c][1] * a1 + p[c][2] * a2);
  }
}
