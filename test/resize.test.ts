/**
 * Resizing against a float64 reference written from the filter's definition (a 2-D sum over the
 * whole image, not the separable passes of lib/data/resize.ts) and against Pillow's
 * Image.resize(BILINEAR) on the same pixels (test/fixtures/images/resize, written by
 * scripts/make_image_fixtures.py).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RgbImage } from '../lib/data/decode-js';
import { resizeImage, resizeShorter, resizeStretch, storedSize } from '../lib/data/resize';
import { ArgumentError } from '../lib/errors';
import { Rng, testSeed } from './util/random';

interface ResizeCase {
  width: number;
  height: number;
  size: number;
  source: string;
  stretch: string;
  shorter: string;
}

const fixture: { pillow: string; cases: ResizeCase[] } = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'images', 'resize', 'meta.json'), 'utf8'),
);
const bytes = (base64: string) => Uint8Array.from(Buffer.from(base64, 'base64'));

/**
 * Weights of input samples 0..input-1 for output `i` of an axis scaled to `target` samples: the
 * tent tri(t) = max(0, 1 - |t|) stretched by max(input / target, 1), centred on the output
 * pixel's centre in input coordinates, normalised to sum to one.
 */
function tentWeights(input: number, target: number, i: number): number[] {
  const scale = input / target;
  const stretch = Math.max(scale, 1);
  const centre = (i + 0.5) * scale;
  const w = Array.from({ length: input }, (_, x) =>
    Math.max(0, 1 - Math.abs((x + 0.5 - centre) / stretch)),
  );
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/** float64 window (x0, y0, size x size) of `image` scaled to targetWidth x targetHeight. */
function reference(
  image: RgbImage,
  targetWidth: number,
  targetHeight: number,
  x0: number,
  y0: number,
  size: number,
): Float64Array {
  const out = new Float64Array(size * size * 3);
  for (let i = 0; i < size; ++i) {
    const wy = tentWeights(image.height, targetHeight, y0 + i);
    for (let j = 0; j < size; ++j) {
      const wx = tentWeights(image.width, targetWidth, x0 + j);
      for (let c = 0; c < 3; ++c) {
        let sum = 0;
        for (let y = 0; y < image.height; ++y) {
          if (wy[y] === 0) continue;
          for (let x = 0; x < image.width; ++x) {
            sum += wy[y] * wx[x] * image.data[(y * image.width + x) * 3 + c];
          }
        }
        out[(i * size + j) * 3 + c] = sum;
      }
    }
  }
  return out;
}

function shorterWindow(width: number, height: number, size: number) {
  const shorter = Math.min(width, height);
  const targetWidth = width === shorter ? size : Math.round((width * size) / shorter);
  const targetHeight = height === shorter ? size : Math.round((height * size) / shorter);
  return {
    targetWidth,
    targetHeight,
    x0: Math.floor((targetWidth - size) / 2),
    y0: Math.floor((targetHeight - size) / 2),
  };
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; ++i) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const seed = testSeed();

describe(`resize (seed ${seed})`, () => {
  const rng = new Rng(seed);
  const randomImage = (width: number, height: number): RgbImage => ({
    data: Uint8Array.from(rng.uniform(width * height * 3, 0, 256), Math.floor),
    width,
    height,
  });

  // Our result is the float64 value rounded once to an integer: within 0.5 of the reference
  // (plus the float64 rounding of a few hundred products, far below 1e-9).
  test.each([
    [53, 31, 16],
    [31, 53, 16],
    [9, 7, 20],
    [40, 40, 40],
    [100, 3, 8],
  ])('stretch of a random %ix%i image to %i against the float64 reference', (w, h, size) => {
    const image = randomImage(w, h);
    const out = resizeStretch(image, size);
    expect([out.width, out.height]).toEqual([size, size]);
    expect(maxDifference(out.data, reference(image, size, size, 0, 0, size))).toBeLessThanOrEqual(
      0.5 + 1e-9,
    );
  });

  test.each([
    [53, 31, 16],
    [31, 53, 16],
    [9, 7, 20],
    [100, 3, 8],
  ])(
    'shorter-side resize of a random %ix%i image to %i against the float64 reference',
    (w, h, size) => {
      const image = randomImage(w, h);
      const out = resizeShorter(image, size);
      const { targetWidth, targetHeight, x0, y0 } = shorterWindow(w, h, size);
      expect(
        maxDifference(out.data, reference(image, targetWidth, targetHeight, x0, y0, size)),
      ).toBeLessThanOrEqual(0.5 + 1e-9);
    },
  );

  test('a constant image stays constant', () => {
    const image = { data: new Uint8Array(37 * 23 * 3).fill(77), width: 37, height: 23 };
    for (const policy of ['stretch', 'shorter'] as const) {
      expect(resizeImage(image, 11, policy).data.every((v) => v === 77)).toBe(true);
    }
  });

  // Pillow rounds to 8 bits after its horizontal pass and uses fixed-point weights; we round once
  // from float64: the two agree within one level.
  test.each(fixture.cases.map((c) => [c.width, c.height, c.size, c] as const))(
    `%ix%i to %i agrees with Pillow ${fixture.pillow} within one level`,
    (width, height, size, c) => {
      const image = { data: bytes(c.source), width, height };
      expect(maxDifference(resizeStretch(image, size).data, bytes(c.stretch))).toBeLessThanOrEqual(
        1,
      );
      expect(maxDifference(resizeShorter(image, size).data, bytes(c.shorter))).toBeLessThanOrEqual(
        1,
      );
    },
  );

  test('the stored size keeps 256 / 227', () => {
    expect(storedSize(227)).toBe(256);
    expect(storedSize(67)).toBe(76);
    expect(storedSize(127)).toBe(143);
  });

  test('bad arguments name the argument', () => {
    const image = randomImage(4, 3);
    expect(() => resizeStretch(image, 0)).toThrow(
      'Expected positive integer for size but received 0 of type number',
    );
    expect(() => resizeStretch({ ...image, width: 5 }, 2)).toThrow(
      'Expected image.data to be a Uint8Array of 5 x 3 x 3 = 45 bytes but received 36',
    );
    expect(() => resizeImage(image, 2, 'crop' as never)).toThrow(ArgumentError);
    expect(() => resizeImage(image, 2, 'crop' as never)).toThrow(
      `Expected 'stretch' or 'shorter' for policy but received "crop"`,
    );
  });
});
