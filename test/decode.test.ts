/**
 * Image decoding against what the fixture script (scripts/make_image_fixtures.py) knows about
 * each file: the exact pixels of the lossless PNG cases, and Pillow's decoding of the JPEGs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeImageJs } from '../lib/data/decode-js';
import { FormatError } from '../lib/errors';

const FORMATS = path.join(__dirname, 'fixtures', 'images', 'formats');

interface FormatCase {
  width: number;
  height: number;
  /** base64 of the expected RGB bytes, HWC. */
  pixels: string;
  exact: boolean;
}

const cases: Record<string, FormatCase> = JSON.parse(
  fs.readFileSync(path.join(FORMATS, 'meta.json'), 'utf8'),
);

const decodeFixture = (name: string) =>
  decodeImageJs(fs.readFileSync(path.join(FORMATS, name)), name);

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; ++i) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('decodeImageJs', () => {
  test.each(Object.keys(cases))('%s decodes to the pixels the fixture script expects', (name) => {
    const expected = cases[name];
    const image = decodeFixture(name);
    expect([image.width, image.height]).toEqual([expected.width, expected.height]);
    const pixels = Uint8Array.from(Buffer.from(expected.pixels, 'base64'));
    expect(image.data.length).toBe(pixels.length);
    // Lossless PNGs must match exactly. jpeg-js and libjpeg (Pillow) use different inverse DCTs
    // (jpeg-js: the floating AAN-style one of pdf.js; libjpeg: the slow-integer one), which
    // differ by a rounding or two per sample on 4:4:4 images.
    expect(maxDifference(image.data, pixels)).toBeLessThanOrEqual(expected.exact ? 0 : 2);
  });

  test('a greyscale JPEG has three equal channels', () => {
    const { data } = decodeFixture('grey.jpg');
    for (let i = 0; i < data.length; i += 3) {
      expect(data[i + 1]).toBe(data[i]);
      expect(data[i + 2]).toBe(data[i]);
    }
  });

  test('the format comes from the signature, not the name', () => {
    const bytes = fs.readFileSync(path.join(FORMATS, 'rgb.png'));
    expect(decodeImageJs(bytes, 'photo.jpg')).toEqual(decodeFixture('rgb.png'));
  });

  test.each([
    ['truncated.jpg', 'truncated.jpg: corrupt or unsupported JPEG (unknown JPEG marker 0)'],
    ['truncated.png', 'truncated.png: corrupt or truncated PNG'],
    [
      'text.jpg',
      'text.jpg: expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is none of these',
    ],
    [
      'empty.png',
      'empty.png: expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is an empty file',
    ],
  ])('%s is a FormatError naming the file', (name, message) => {
    expect(() => decodeFixture(name)).toThrow(FormatError);
    expect(() => decodeFixture(name)).toThrow(message);
  });
});
