import type { AugmentOptions } from '../lib';
import { ArgumentError, augment, DisposedError, ShapeError, Tensor } from '../lib';
import { expectClose } from './util/compare';
import { Rng, testSeed } from './util/random';

interface Batch {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** float64 reference of augment: NCHW crops of HWC RGB images. */
function referenceAugment(
  { images, count, height, width }: Batch,
  outHeight: number,
  outWidth: number,
  options: AugmentOptions,
): Float64Array {
  // The op receives mean and scale as float32.
  const mean = (options.mean ?? [0, 0, 0]).map(Math.fround);
  const scale = (options.scale ?? [1, 1, 1]).map(Math.fround);
  const out = new Float64Array(count * 3 * outHeight * outWidth);
  for (let i = 0; i < count; ++i) {
    for (let oc = 0; oc < 3; ++oc) {
      const c = options.bgr ? 2 - oc : oc;
      const shift = options.rgbShift ? options.rgbShift[3 * i + c] : 0;
      for (let y = 0; y < outHeight; ++y) {
        for (let x = 0; x < outWidth; ++x) {
          const sy = options.crops[2 * i] + y;
          const sx = options.crops[2 * i + 1] + (options.mirror[i] ? outWidth - 1 - x : x);
          const pixel = images[((i * height + sy) * width + sx) * 3 + c];
          out[((i * 3 + oc) * outHeight + y) * outWidth + x] = (pixel + shift - mean[c]) * scale[c];
        }
      }
    }
  }
  return out;
}

function run(batch: Batch, outHeight: number, outWidth: number, options: AugmentOptions) {
  const out = Tensor.zeros([batch.count, 3, outHeight, outWidth]);
  augment(batch.images, batch, out, options);
  const values = Array.from(out.toArray());
  out.dispose();
  return values;
}

// Two 2 x 3 images whose bytes say where they are: image i, pixel (y, x), channel c holds
// 100 i + 10 (3 y + x) + c.
const small: Batch = {
  images: Uint8Array.from({ length: 2 * 2 * 3 * 3 }, (_, k) => {
    const c = k % 3;
    const pixel = Math.floor(k / 3) % 6;
    const i = Math.floor(k / 18);
    return 100 * i + 10 * pixel + c;
  }),
  count: 2,
  height: 2,
  width: 3,
};

const seed = testSeed();

describe(`augment (seed ${seed})`, () => {
  const rng = new Rng(seed);

  test('crops a 1 x 2 window per image, mirroring the second', () => {
    const crops = Int32Array.from([1, 1, 0, 0]);
    const mirror = Uint8Array.from([0, 1]);
    // Image 0 at (1, 1): pixels 4, 5. Image 1 at (0, 0) mirrored: pixels 1, 0.
    expect(run(small, 1, 2, { crops, mirror })).toEqual(
      [
        [40, 50, 41, 51, 42, 52],
        [110, 100, 111, 101, 112, 102],
      ].flat(),
    );
  });

  test('shifts, subtracts the mean and scales per source channel, in BGR order when asked', () => {
    const options: AugmentOptions = {
      crops: Int32Array.from([1, 1, 0, 1]),
      mirror: Uint8Array.from([1, 0]),
      rgbShift: Float32Array.from([0.5, -1, 2, 0, 0, -4]),
      mean: [1, 2, 3],
      scale: [2, 0.5, 1],
    };
    // Image 0 at (1, 1) mirrored: pixels 5, 4; R (50 + 0.5 - 1) * 2, G (51 - 1 - 2) / 2,
    // B 52 + 2 - 3. Image 1 at (0, 1): pixels 1, 2; R (110 - 1) * 2, G (111 - 2) / 2, B 112 - 4 - 3.
    const r = [99, 79, 218, 238];
    const g = [24, 19, 54.5, 59.5];
    const b = [51, 41, 105, 115];
    const rgb = run(small, 1, 2, options);
    expect(rgb).toEqual(
      [r.slice(0, 2), g.slice(0, 2), b.slice(0, 2), r.slice(2), g.slice(2), b.slice(2)].flat(),
    );
    const bgr = run(small, 1, 2, { ...options, bgr: true });
    expect(bgr).toEqual(
      [b.slice(0, 2), g.slice(0, 2), r.slice(0, 2), b.slice(2), g.slice(2), r.slice(2)].flat(),
    );
  });

  test('a crop of the whole image is a transpose to CHW', () => {
    const one: Batch = { ...small, count: 1, images: small.images.slice(0, 18) };
    expect(
      run(one, 2, 3, { crops: Int32Array.from([0, 0]), mirror: Uint8Array.from([0]) }),
    ).toEqual([0, 10, 20, 30, 40, 50, 1, 11, 21, 31, 41, 51, 2, 12, 22, 32, 42, 52]);
  });

  for (const bgr of [false, true]) {
    test(`random batch against the float64 reference (bgr ${bgr})`, () => {
      const count = 5;
      const height = 11;
      const width = 13;
      const outHeight = 7;
      const outWidth = 9;
      const batch: Batch = {
        images: Uint8Array.from(rng.int(count * height * width * 3, 256)),
        count,
        height,
        width,
      };
      const crops = new Int32Array(2 * count);
      for (let i = 0; i < count; ++i) {
        crops[2 * i] = rng.int(1, height - outHeight + 1)[0];
        crops[2 * i + 1] = rng.int(1, width - outWidth + 1)[0];
      }
      const options: AugmentOptions = {
        crops,
        mirror: Uint8Array.from(rng.int(count, 2)),
        rgbShift: rng.normal(3 * count, 20),
        mean: [123.68, 116.78, 103.94],
        scale: [1 / 58.4, 1 / 57.12, 1 / 57.38],
        bgr,
      };
      // Three float32 roundings, 2^-24 relative each: the sum and the difference (below 400 with
      // shifts of std 20) and the product (below 7): 2 * 400 * 2^-24 / 57 + 7 * 2^-24 < 1.3e-6.
      expectClose(
        run(batch, outHeight, outWidth, options),
        referenceAugment(batch, outHeight, outWidth, options),
        { rtol: 0, atol: 2e-6 },
      );
    });
  }

  describe('rejects bad arguments', () => {
    const images = new Uint8Array(2 * 4 * 5 * 3);
    const size = { count: 2, height: 4, width: 5 };
    const out = Tensor.zeros([2, 3, 3, 3]);
    const options: AugmentOptions = {
      crops: Int32Array.from([0, 0, 1, 2]),
      mirror: new Uint8Array(2),
    };
    afterAll(() => out.dispose());

    test('the valid call passes', () => {
      expect(() => augment(images, size, out, options)).not.toThrow();
    });

    test.each([
      [
        { ...options, crops: Int32Array.from([0, 0, 2, 0]) },
        'Expected integer between 0 and 1 for crops[2] but received 2 of type number',
      ],
      [
        { ...options, crops: Int32Array.from([0, -1, 0, 0]) },
        'Expected integer between 0 and 2 for crops[1] but received -1 of type number',
      ],
      [
        { ...options, crops: Int32Array.from([0, 0, 0, 3]) },
        'Expected integer between 0 and 2 for crops[3] but received 3 of type number',
      ],
      [
        { ...options, crops: new Int32Array(3) },
        'Expected Int32Array of length 4 for crops but received length 3',
      ],
      [
        { ...options, crops: [0, 0, 0, 0] as never },
        'Expected Int32Array for crops but received [0, 0, 0, 0]',
      ],
      [
        { ...options, mirror: new Int32Array(2) as never },
        'Expected Uint8Array for mirror but received an object of type Int32Array',
      ],
      [
        { ...options, rgbShift: new Float32Array(3) },
        'Expected Float32Array of length 6 for rgbShift but received length 3',
      ],
      [
        { ...options, rgbShift: Float32Array.from([0, 0, 0, 0, Number.NaN, 0]) },
        'Expected finite number for rgbShift[4] but received NaN of type number',
      ],
      [
        { ...options, mean: [1, 2] as never },
        'Expected array of 3 numbers for mean but received [1, 2]',
      ],
      [
        { ...options, scale: [1, Number.POSITIVE_INFINITY, 1] },
        'Expected finite number for scale[1] but received Infinity of type number',
      ],
      [
        { ...options, bgr: 'yes' as never },
        "Expected boolean for bgr but received 'yes' of type string",
      ],
    ] as [AugmentOptions, string][])('options %#', (bad, message) => {
      expect(() => augment(images, size, out, bad)).toThrow(ArgumentError);
      expect(() => augment(images, size, out, bad)).toThrow(message);
    });

    test('image sizes and buffers that disagree', () => {
      expect(() => augment(images, { ...size, count: 0 }, out, options)).toThrow(
        'Expected positive integer for imageSize.count but received 0 of type number',
      );
      expect(() => augment(images, { ...size, width: 6 }, out, options)).toThrow(
        'Expected Uint8Array of length 144 for images but received length 120',
      );
      expect(() => augment(new Float32Array(120) as never, size, out, options)).toThrow(
        'Expected Uint8Array for images but received an object of type Float32Array',
      );
      expect(() => augment(images, null as never, out, options)).toThrow(
        'Expected object for imageSize but received null',
      );
      expect(() => augment(images, size, out, null as never)).toThrow(
        'Expected object for options but received null',
      );
    });

    test('an output of the wrong shape, or larger than the images', () => {
      const wrongCount = Tensor.zeros([1, 3, 3, 3]);
      expect(() => augment(images, size, wrongCount, options)).toThrow(ShapeError);
      expect(() => augment(images, size, wrongCount, options)).toThrow(
        'Expected shape [2, 3, *, *] for out but received [1, 3, 3, 3]',
      );
      const tooWide = Tensor.zeros([2, 3, 3, 6]);
      expect(() => augment(images, size, tooWide, options)).toThrow(
        'Expected out no larger than the 4x5 images but received [2, 3, 3, 6]',
      );
      const gone = Tensor.zeros([2, 3, 3, 3]);
      gone.dispose();
      expect(() => augment(images, size, gone, options)).toThrow(DisposedError);
      expect(() => augment(images, size, gone, options)).toThrow(
        'Tensor out [2, 3, 3, 3] has been disposed',
      );
      wrongCount.dispose();
      tooWide.dispose();
    });
  });
});
