/**
 * The colour conversions both decoders share, so that they differ only in what their decoders do:
 *
 * - RGBA to RGB over white: a transparent PNG is drawn for people on a white page, and white is
 *   the background the photographs of ImageNet's product-like classes have. Compositing over
 *   black would turn every transparent background into a dark one, which a photograph of the
 *   same object never has.
 * - CMYK to RGB by the naive inverse Pillow uses (Pillow's Convert.c, cmyk2rgb: R = (255 - C)
 *   (255 - K) / 255, rounded, and likewise G from M and B from Y), on the ink amounts libjpeg
 *   decodes (an Adobe JPEG's inverted samples already un-inverted). No ICC profile is applied:
 *   neither Pillow nor Caffe's OpenCV apply one, and the networks we load were trained on their
 *   pixels.
 */

/** c * a + 255 * (1 - a) with a = alpha / 255, rounded to nearest. */
function overWhite(colour: number, alpha: number): number {
  return Math.round((colour * alpha + 255 * (255 - alpha)) / 255);
}

/** 8-bit RGBA (4 bytes per pixel) to RGB, composited over white. */
export function rgbaOverWhite(rgba: Uint8Array): Uint8Array {
  const data = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    const alpha = rgba[p + 3];
    if (alpha === 255) {
      data[q] = rgba[p];
      data[q + 1] = rgba[p + 1];
      data[q + 2] = rgba[p + 2];
    } else {
      data[q] = overWhite(rgba[p], alpha);
      data[q + 1] = overWhite(rgba[p + 1], alpha);
      data[q + 2] = overWhite(rgba[p + 2], alpha);
    }
  }
  return data;
}

/**
 * Pillow's MULDIV255(a, b): a * b / 255 rounded, in integers (Pillow's ImagingUtils.h):
 * t = a * b + 128, ((t >> 8) + t) >> 8.
 */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** 8-bit CMYK ink amounts (4 bytes per pixel, 0 = no ink) to RGB by Pillow's naive inverse. */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const data = new Uint8Array((cmyk.length / 4) * 3);
  for (let p = 0, q = 0; p < cmyk.length; p += 4, q += 3) {
    const white = 255 - cmyk[p + 3];
    data[q] = white - mulDiv255(cmyk[p], white);
    data[q + 1] = white - mulDiv255(cmyk[p + 1], white);
    data[q + 2] = white - mulDiv255(cmyk[p + 2], white);
  }
  return data;
}
