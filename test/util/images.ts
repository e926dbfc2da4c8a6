/** Test images made on the spot: patterns whose pixels differ everywhere, as PNG or JPEG bytes. */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** A w x h RGB image whose pixels differ everywhere, left from right and top from bottom. */
export function pattern(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; ++y) {
    for (let x = 0; x < width; ++x) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (x * y * seed) % 256;
    }
  }
  return data;
}

/** `pattern` as an opaque RGBA buffer, what both encoders take. */
function rgba(width: number, height: number, seed: number): Buffer {
  const rgb = pattern(width, height, seed);
  const out = Buffer.alloc(width * height * 4, 255);
  for (let p = 0; p < width * height; ++p) out.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p);
  return out;
}

export function pngBytes(width: number, height: number, seed: number): Buffer {
  const png = new PNG({ width, height });
  rgba(width, height, seed).copy(png.data);
  return PNG.sync.write(png);
}

/** Quality 90, jpeg-js's encoder (4:2:0 chroma). */
export function jpegBytes(width: number, height: number, seed: number): Buffer {
  return Buffer.from(jpeg.encode({ data: rgba(width, height, seed), width, height }, 90).data);
}
