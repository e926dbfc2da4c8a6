/**
 * The batch augmentation of Krizhevsky et al. (2012, §4.1) in one native pass from uint8 images
 * to the network's float input: crop, horizontal mirror, PCA colour shift, mean subtraction,
 * per-channel scale and channel order. The caller makes the random choices (crop offsets, mirror
 * flags, colour shifts), so the op itself is deterministic.
 */
import { ShapeError } from '../errors';
import { native } from '../native';
import { expectTensor, formatShape, type Tensor } from '../tensor';
import { boolean, fail, finiteNumber, integer, typedArray } from '../validate';

/** The per-image choices and the input convention of one augment call. */
export interface AugmentOptions {
  /** Crop offsets, two per image: y then x, with the crop inside the image. */
  crops: Int32Array;
  /** One per image: nonzero mirrors the crop horizontally. */
  mirror: Uint8Array;
  /** Added to each pixel before the mean, three per image in RGB order (the PCA colour shift). @default no shift */
  rgbShift?: Float32Array;
  /** Per-channel mean in RGB order, subtracted. @default [0, 0, 0] */
  mean?: readonly [number, number, number];
  /** Per-channel multiplier after mean subtraction (1/std when normalising). @default [1, 1, 1] */
  scale?: readonly [number, number, number];
  /** Write channels in BGR order (Caffe's convention for the bvlc weights). @default false */
  bgr?: boolean;
}

/** The size of the images in a batch. */
export interface ImageSize {
  count: number;
  height: number;
  width: number;
}

function channelTriple(name: string, value: unknown): Float32Array {
  if (!Array.isArray(value) || value.length !== 3) fail('array of 3 numbers', name, value);
  return Float32Array.from(value, (v: unknown, c) => finiteNumber(`${name}[${c}]`, v));
}

/**
 * Writes `out[i] = (crop of images[i], mirrored when asked, + rgbShift[i] - mean) * scale` as
 * (count, 3, cropHeight, cropWidth), where `images` holds `count` images of height x width x 3
 * bytes (HWC, RGB) back to back and the crop size is taken from `out`.
 */
export function augment(
  images: Uint8Array,
  imageSize: ImageSize,
  out: Tensor,
  options: AugmentOptions,
): void {
  if (typeof imageSize !== 'object' || imageSize === null) fail('object', 'imageSize', imageSize);
  const count = integer('imageSize.count', imageSize.count, 1);
  const height = integer('imageSize.height', imageSize.height, 1);
  const width = integer('imageSize.width', imageSize.width, 1);
  typedArray('images', images, Uint8Array, count * height * width * 3);
  expectTensor('out', out, [count, 3, -1, -1]);
  const [, , cropHeight, cropWidth] = out.shape;
  if (cropHeight > height || cropWidth > width) {
    throw new ShapeError(
      `Expected out no larger than the ${height}x${width} images but received ${formatShape(out.shape)}`,
    );
  }
  if (typeof options !== 'object' || options === null) fail('object', 'options', options);
  const crops = typedArray('crops', options.crops, Int32Array, 2 * count);
  for (let i = 0; i < count; ++i) {
    integer(`crops[${2 * i}]`, crops[2 * i], 0, height - cropHeight);
    integer(`crops[${2 * i + 1}]`, crops[2 * i + 1], 0, width - cropWidth);
  }
  const mirror = typedArray('mirror', options.mirror, Uint8Array, count);
  const rgbShift =
    options.rgbShift === undefined
      ? new Float32Array(3 * count)
      : typedArray('rgbShift', options.rgbShift, Float32Array, 3 * count);
  for (let i = 0; i < rgbShift.length; ++i) finiteNumber(`rgbShift[${i}]`, rgbShift[i]);
  const mean = channelTriple('mean', options.mean ?? [0, 0, 0]);
  const scale = channelTriple('scale', options.scale ?? [1, 1, 1]);
  const bgr = boolean('bgr', options.bgr ?? false);
  native.augment(
    images,
    count,
    height,
    width,
    out.handle,
    crops,
    mirror,
    rgbShift,
    mean,
    scale,
    bgr,
  );
}
