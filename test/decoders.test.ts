/**
 * Both decoders (lib/data/decoder.ts) against Pillow's decoding of the same files
 * (test/fixtures/decoders, written by scripts/make_decoder_fixtures.py): sharp exactly, jpeg-js +
 * pngjs exactly on PNG and within stated bounds on JPEG; the formats only sharp reads, and their
 * error under jpeg-js; EXIF orientation; the choice of decoder and the fallback when sharp cannot
 * be loaded, on the main thread (sharp mocked) and in the decode workers of a child process where
 * it is not found. The tests of sharp itself skip, saying so, where sharp does not load.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImageJs, type RgbImage } from '../lib/data/decode-js';
import { decodeImage, decoders, resolveDecoder } from '../lib/data/decoder';
import { ImageCache } from '../lib/data/image-cache';
import { decodeFlags, decoderLine } from '../scripts/decode-flags';
import { expectFreshBuild } from './util/built-cli';
import { describeWithSharp, testWithSharp } from './util/optional';

const DIR = path.join(__dirname, 'fixtures', 'decoders');

interface Fixture {
  format: string;
  width: number;
  height: number;
  /** base64 of Pillow's RGB bytes, HWC. */
  pixels: string;
  subsampled?: boolean;
  lossless?: boolean;
  oriented?: string;
  orientedWidth?: number;
  orientedHeight?: number;
}

const { files: fixtures }: { files: Record<string, Fixture> } = JSON.parse(
  fs.readFileSync(path.join(DIR, 'meta.json'), 'utf8'),
);
const names = Object.keys(fixtures);
const jpegs = names.filter((name) => fixtures[name].format === 'jpeg');
const pngs = names.filter((name) => fixtures[name].format === 'png');
const sharpOnly = names.filter((name) => !['jpeg', 'png'].includes(fixtures[name].format));
const bytes = (name: string) => fs.readFileSync(path.join(DIR, name));
const pillow = (name: string) => Uint8Array.from(Buffer.from(fixtures[name].pixels, 'base64'));

/** Largest and mean absolute difference over all samples. */
function differences(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; ++i) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** Largest difference of luma (ITU-R BT.601 weights, as JPEG's YCbCr uses: JFIF §7). */
function lumaDifference(a: Uint8Array, b: Uint8Array): number {
  const luma = (x: Uint8Array, i: number) => 0.299 * x[i] + 0.587 * x[i + 1] + 0.114 * x[i + 2];
  let max = 0;
  for (let i = 0; i < a.length; i += 3) max = Math.max(max, Math.abs(luma(a, i) - luma(b, i)));
  return max;
}

function expectSize(image: RgbImage, name: string): void {
  expect([image.width, image.height]).toEqual([fixtures[name].width, fixtures[name].height]);
  expect(image.data.length).toBe(image.width * image.height * 3);
}

describeWithSharp('sharp decoder against Pillow', () => {
  test('sharp loads here (an optionalDependency that npm install brings)', () => {
    expect(decoders()).toEqual({ default: 'sharp', sharp: expect.stringMatching(/^sharp 0\.35/) });
    expect(resolveDecoder('auto')).toBe('sharp');
  });

  // libvips decodes JPEG with libjpeg (mozjpeg) at its default settings, as Pillow does with
  // libjpeg-turbo: same IDCT, same fancy upsampling, so the same bytes. CMYK goes through the same
  // naive inverse as Pillow's (colour-convert.ts), alpha over white on both sides.
  test.each(names)('%s decodes to exactly Pillow’s pixels', async (name) => {
    const image = await decodeImage(bytes(name), name, { decoder: 'sharp' });
    expectSize(image, name);
    expect(differences(image.data, pillow(name)).max).toBe(0);
  });

  test('EXIF orientation is ignored, as Pillow and Caffe do, unless autoOrient', async () => {
    const name = 'exif-orientation-6.jpg';
    const fixture = fixtures[name];
    const oriented = await decodeImage(bytes(name), name, {
      decoder: 'sharp',
      autoOrient: true,
    });
    // Orientation 6 turns the 36 x 24 stored image into a 24 x 36 one.
    expect([oriented.width, oriented.height]).toEqual([
      fixture.orientedWidth,
      fixture.orientedHeight,
    ]);
    expect([oriented.width, oriented.height]).toEqual([fixture.height, fixture.width]);
    const expected = Uint8Array.from(Buffer.from(fixture.oriented!, 'base64'));
    expect(differences(oriented.data, expected).max).toBe(0);
  });

  // Written by libavif's avifenc (libaom), not by sharp (libheif), from rgb.png, and checked
  // lossless with avifdec when it was made (scripts/make_decoder_fixtures.py): sharp must give
  // the PNG's pixels, as Pillow decodes them.
  test('AVIF: a lossless AVIF that libavif wrote decodes to its source pixels', async () => {
    const file = path.join(__dirname, 'fixtures', 'avif', 'lossless.avif');
    const image = await decodeImage(fs.readFileSync(file), 'lossless.avif', {
      decoder: 'sharp',
    });
    expect([image.width, image.height]).toEqual([
      fixtures['rgb.png'].width,
      fixtures['rgb.png'].height,
    ]);
    expect(differences(image.data, pillow('rgb.png')).max).toBe(0);
  });
});

describe('js decoder (jpeg-js + pngjs) against Pillow', () => {
  test.each(pngs)('%s decodes to exactly Pillow’s pixels', async (name) => {
    const image = await decodeImage(bytes(name), name, { decoder: 'js' });
    expectSize(image, name);
    expect(differences(image.data, pillow(name)).max).toBe(0);
    expect(decodeImageJs(bytes(name), name)).toEqual(image);
  });

  test.each(jpegs)('%s is within the bounds of its two differences from libjpeg', async (name) => {
    const image = await decodeImage(bytes(name), name, { decoder: 'js' });
    expectSize(image, name);
    const expected = pillow(name);
    const { max, mean } = differences(image.data, expected);
    if (!fixtures[name].subsampled) {
      // Full-resolution chroma: only the inverse DCTs differ (jpeg-js: pdf.js's floating AAN
      // one; libjpeg: the slow-integer one), by a rounding or two per coefficient, which the
      // colour conversion can add up to 3 levels.
      expect(max).toBeLessThanOrEqual(3);
      return;
    }
    // Subsampled chroma: jpeg-js replicates each chroma sample over its 2 x 1 or 2 x 2 block,
    // libjpeg interpolates (fancy upsampling, a triangle filter), so at colour edges the colours
    // differ by tens of levels. Luma is stored at full resolution and differs only by the IDCT
    // rounding above, so the brightness each pixel gets stays within 3 levels...
    expect(lumaDifference(image.data, expected)).toBeLessThanOrEqual(3);
    // ...and colour differences stay at the edges: on these fixtures, blocks of 5-13 pixels
    // (edges every few pixels, far denser than a photograph's), the mean is 3-5.5 levels.
    expect(mean).toBeLessThanOrEqual(8);
  });

  test.each(sharpOnly)(
    '%s is refused with an UnsupportedFormatError that names sharp',
    async (name) => {
      const format = { webp: 'WebP', tiff: 'TIFF', gif: 'GIF' }[fixtures[name].format];
      const message = `${name}: ${format} images need the sharp decoder (npm install sharp, and decoder 'sharp' or 'auto'); the js decoder reads JPEG and PNG only`;
      await expect(decodeImage(bytes(name), name, { decoder: 'js' })).rejects.toMatchObject({
        name: 'UnsupportedFormatError',
        message,
      });
    },
  );
});

describe('errors name the file, with either decoder', () => {
  const FORMATS = path.join(__dirname, 'fixtures', 'images', 'formats');
  const unknown = 'expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is';
  const cases = [
    [
      'sharp',
      'truncated.jpg',
      'truncated.jpg: corrupt or unsupported JPEG (Input buffer has corrupt header: VipsJpeg: premature end of JPEG image)',
    ],
    [
      'sharp',
      'truncated.png',
      'truncated.png: corrupt or unsupported PNG (vipspng: libpng read error)',
    ],
    ['sharp', 'text.jpg', `text.jpg: ${unknown} none of these`],
    ['js', 'text.jpg', `text.jpg: ${unknown} none of these`],
    ['sharp', 'empty.png', `empty.png: ${unknown} an empty file`],
    ['js', 'empty.png', `empty.png: ${unknown} an empty file`],
    ['js', 'truncated.jpg', 'truncated.jpg: corrupt or unsupported JPEG (unknown JPEG marker 0)'],
  ] as const;
  for (const [decoder, name, message] of cases) {
    (decoder === 'sharp' ? testWithSharp : test)(`${decoder}: ${name}`, async () => {
      const file = fs.readFileSync(path.join(FORMATS, name));
      // A format neither decoder reads is the FormatError subclass the server answers 415 for.
      await expect(decodeImage(file, name, { decoder })).rejects.toMatchObject({
        name: message.includes(unknown) ? 'UnsupportedFormatError' : 'FormatError',
        message,
      });
    });
  }
});

testWithSharp(
  'sharp reads no SVG (it can reference other files): only the formats we list',
  async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    await expect(decodeImage(svg, 'x.svg', { decoder: 'sharp' })).rejects.toMatchObject({
      name: 'UnsupportedFormatError',
      message:
        'x.svg: expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is none of these',
    });
  },
);

describe('decoder options', () => {
  testWithSharp('the CLI log line names sharp and its libvips, or the choice of js', () => {
    const auto = decodeFlags({ decoder: 'auto', autoOrient: true, maxPixels: '100000000' });
    expect(decoderLine(auto)).toMatch(
      /^decoder: sharp 0\.35\.\d+, libvips \d+\.\d+\.\d+, EXIF orientation applied$/,
    );
    const js = decodeFlags({ decoder: 'js', autoOrient: false, maxPixels: '100000000' });
    expect(decoderLine(js)).toBe('decoder: jpeg-js + pngjs (chosen with --decoder js)');
    expect(() => decodeFlags({ decoder: 'js', autoOrient: true, maxPixels: '1' })).toThrow(
      '--auto-orient needs --decoder sharp or auto: jpeg-js reads no EXIF',
    );
  });

  test('an unknown decoder, or autoOrient without sharp, is an ArgumentError', async () => {
    const jpeg = bytes('baseline-420.jpg');
    await expect(decodeImage(jpeg, 'x.jpg', { decoder: 'libjpeg' as 'js' })).rejects.toMatchObject({
      name: 'ArgumentError',
      message: `Expected 'auto', 'sharp' or 'js' for decoder but received "libjpeg"`,
    });
    await expect(
      decodeImage(jpeg, 'x.jpg', { decoder: 'js', autoOrient: true }),
    ).rejects.toMatchObject({
      name: 'ArgumentError',
      message:
        'Expected decoder sharp for autoOrient but received the js decoder, which reads no EXIF',
    });
  });

  testWithSharp('auto is sharp where it loads: the same pixels as decoder sharp', async () => {
    const name = 'baseline-420.jpg';
    const auto = await decodeImage(bytes(name), name);
    expect(auto).toEqual(await decodeImage(bytes(name), name, { decoder: 'sharp' }));
    expect(auto).not.toEqual(decodeImageJs(bytes(name), name));
  });
});

describe('when sharp cannot be loaded', () => {
  // What require('sharp') does after an install that skipped or failed the optional dependency.
  const missing = () => {
    const error = new Error("Cannot find module 'sharp'") as NodeJS.ErrnoException;
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  };
  let decoder: typeof import('../lib/data/decoder');

  beforeEach(() => {
    jest.resetModules();
    jest.doMock('sharp', missing);
    decoder = require('../lib/data/decoder');
  });
  afterEach(() => jest.dontMock('sharp'));

  test('auto falls back to jpeg-js silently, with the same pixels as decodeImageJs', async () => {
    expect(decoder.decoders()).toEqual({
      default: 'js',
      sharp: { unavailable: "Cannot find module 'sharp'" },
    });
    expect(decoder.resolveDecoder('auto')).toBe('js');
    const name = 'baseline-420.jpg';
    const image = await decoder.decodeImage(bytes(name), name);
    expect(image).toEqual(decodeImageJs(bytes(name), name));
  });

  test('the CLI log line says jpeg-js is used and why', () => {
    const { decodeFlags, decoderLine } = require('../scripts/decode-flags');
    const settings = decodeFlags({ decoder: 'auto', autoOrient: false, maxPixels: '1000' });
    expect(settings).toEqual({ decoder: 'js', autoOrient: false, maxPixels: 1000 });
    expect(decoderLine(settings)).toBe(
      "decoder: jpeg-js + pngjs (sharp cannot be loaded: Cannot find module 'sharp')",
    );
  });

  test("decoder 'sharp' is an ArgumentError saying how to install it", () => {
    let thrown: unknown;
    try {
      decoder.resolveDecoder('sharp');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      name: 'ArgumentError',
      message:
        "Expected an installed sharp for decoder 'sharp' but it cannot be loaded (Cannot find module 'sharp'); run npm install sharp, or use decoder 'js'",
    });
  });
});

describe('decode workers where sharp is not found (a child process on the built package)', () => {
  const KAGGLE = path.join(__dirname, 'fixtures', 'images', 'kaggle');
  const files = fs.readdirSync(KAGGLE).map((f) => path.join(KAGGLE, f));
  const ENTRY = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
  beforeAll(() => expectFreshBuild());

  test("auto builds the image cache with jpeg-js in 2 workers; decoder 'sharp' is refused", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-nosharp-'));
    const script = `
      const { ImageCache, decoders } = require(${JSON.stringify(ENTRY)});
      (async () => {
        const options = { dir: ${JSON.stringify(dir)}, name: 'images', size: 24, progress: false, log: () => {} };
        const files = ${JSON.stringify(files)};
        const cache = await ImageCache.open(files, { ...options, workers: 2, decoder: 'auto' });
        const result = { decoders: decoders(), decoder: cache.decoder, skipped: cache.skipped.length };
        await cache.close();
        try {
          await ImageCache.open(files, { ...options, name: 'sharp', workers: 2, decoder: 'sharp' });
        } catch (e) {
          result.refused = e.name + ': ' + e.message;
        }
        process.stdout.write(JSON.stringify(result));
      })();`;
    const blocker = path.join(__dirname, 'util', 'block-sharp.js');
    const output = execFileSync(process.execPath, ['-r', blocker, '-e', script], {
      timeout: 120_000,
    });
    expect(JSON.parse(output.toString())).toEqual({
      decoders: { default: 'js', sharp: { unavailable: "Cannot find module 'sharp'" } },
      decoder: 'js',
      skipped: 1,
      refused:
        "ArgumentError: Expected an installed sharp for decoder 'sharp' but it cannot be loaded (Cannot find module 'sharp'); run npm install sharp, or use decoder 'js'",
    });
    // The workers stored what jpeg-js stores on this thread.
    const here = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-nosharp-'));
    const options = {
      dir: here,
      name: 'images',
      size: 24,
      progress: false as const,
      log: () => {},
    };
    await (await ImageCache.open(files, { ...options, workers: 0, decoder: 'js' })).close();
    const pixels = (folder: string) =>
      fs.readFileSync(path.join(folder, 'images.24-stretch.cache'));
    expect(pixels(dir)).toEqual(pixels(here));
    for (const d of [dir, here]) fs.rmSync(d, { recursive: true, force: true });
  }, 180_000);
});
