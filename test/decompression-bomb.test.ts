/**
 * Decompression bombs (issue 13): small files whose headers announce huge images are refused by
 * both decoders from the header, before any pixel is allocated, with an error naming the file
 * and the limit. Time and memory are measured in a child process (the built package, dist/), so
 * that jest's own allocations do not blur the figure: the CPU time of the call (every thread of
 * the process, so libvips's too), and the peak resident memory (VmHWM) against the resident
 * memory just before the call. The sharp cases skip, saying so, where sharp does not load.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImageJs } from '../lib/data/decode-js';
import { decodeImage } from '../lib/data/decoder';
import { ImageCache } from '../lib/data/image-cache';
import { expectFreshBuild } from './util/built-cli';
import { jpegBomb, pngBomb } from './util/image-bombs';
import { eachDecoder } from './util/optional';

const ENTRY = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
const FIXTURE = path.join(__dirname, 'fixtures', 'decoders', 'baseline-420.jpg');
const SIDE = 40000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bombs-'));
const bombs = {
  'bomb.png': pngBomb(SIDE),
  'bomb.jpg': jpegBomb(fs.readFileSync(FIXTURE), SIDE),
};
for (const [name, bytes] of Object.entries(bombs)) fs.writeFileSync(path.join(dir, name), bytes);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const refusal = (file: string, pixels = 100_000_000) =>
  `${file}: image of ${SIDE}x${SIDE} = ${SIDE * SIDE} pixels exceeds the limit of ${pixels} ` +
  'pixels (maxPixels, --max-pixels)';

/** Decodes `file` in a fresh Node process; the CPU time and memory the call took, and its error. */
function decodeInChild(file: string, decoder: 'sharp' | 'js') {
  const script = `
    const fs = require('node:fs');
    const { decodeImage, decoders } = require(${JSON.stringify(ENTRY)});
    (async () => {
      decoders(); // loads sharp now, so that its libraries are not counted as the call's memory
      const bytes = fs.readFileSync(${JSON.stringify(file)});
      const before = process.memoryUsage().rss;
      const start = process.cpuUsage();
      let error = null;
      try {
        await decodeImage(bytes, ${JSON.stringify(file)}, { decoder: ${JSON.stringify(decoder)} });
      } catch (e) {
        error = { name: e.name, message: e.message };
      }
      const used = process.cpuUsage(start);
      const cpuMs = (used.user + used.system) / 1000;
      // The peak of this process image (VmHWM), not resourceUsage().maxRSS: Linux carries the
      // maxRSS of the parent that forked the child (a jest worker of hundreds of MB) across exec.
      const peak = Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
      const growth = peak * 1024 - before;
      process.stdout.write(JSON.stringify({ cpuMs, growth, error }));
    })();`;
  // A decoder that tried to decode the bomb would take seconds and gigabytes: stop it at 60 s.
  const output = execFileSync(process.execPath, ['-e', script], { timeout: 60_000 });
  return JSON.parse(output.toString()) as {
    cpuMs: number;
    growth: number;
    error: { name: string; message: string } | null;
  };
}

describe(`a ${SIDE} x ${SIDE} decompression bomb`, () => {
  beforeAll(() => expectFreshBuild());

  test('the PNG bomb is a small file', () => {
    // 1.6 GB of pixels in about 1.5 MB, the size of issue 13's bomb.
    expect(bombs['bomb.png'].length).toBeLessThan(2_000_000);
  });

  for (const name of ['bomb.png', 'bomb.jpg']) {
    eachDecoder(`${name} is refused by %s within 250 ms of CPU time and 100 MB`, (decoder) => {
      const file = path.join(dir, name);
      const { cpuMs, growth, error } = decodeInChild(file, decoder);
      expect(error).toEqual({ name: 'FormatError', message: refusal(file) });
      // CPU time, not wall time: a loaded machine delays the call but does not make it compute
      // more. The refusal took 0.5 to 2.5 ms of CPU here; 250 ms leaves room for the first
      // call's lazy set-up (sharp's thread pool, the worker-free path's module loads), while
      // decoding the 1.6 GB of pixels would take several seconds of CPU.
      expect(cpuMs).toBeLessThan(250);
      expect(growth).toBeLessThan(100 * 1024 * 1024);
    });
  }
});

describe('the pixel limit', () => {
  // baseline-420.jpg is 48 x 40 = 1920 pixels.
  eachDecoder('is configurable, the same for %s', async (decoder) => {
    const bytes = fs.readFileSync(FIXTURE);
    await expect(decodeImage(bytes, 'x.jpg', { decoder, maxPixels: 1919 })).rejects.toMatchObject({
      name: 'FormatError',
      message:
        'x.jpg: image of 48x40 = 1920 pixels exceeds the limit of 1919 pixels (maxPixels, --max-pixels)',
    });
    const image = await decodeImage(bytes, 'x.jpg', { decoder, maxPixels: 1920 });
    expect([image.width, image.height]).toEqual([48, 40]);
  });

  test('decodeImageJs takes it as an option too, and validates it', () => {
    const bytes = fs.readFileSync(FIXTURE);
    expect(() => decodeImageJs(bytes, 'x.jpg', { maxPixels: 1000 })).toThrow(
      'exceeds the limit of 1000 pixels',
    );
    expect(() => decodeImageJs(bytes, 'x.jpg', { maxPixels: 0 })).toThrow(
      'Expected positive integer for maxPixels but received 0 of type number',
    );
  });

  eachDecoder(
    'a bomb in a dataset is skipped and reported by the %s cache build',
    async (decoder) => {
      const files = [FIXTURE, path.join(dir, 'bomb.png')];
      const lines: string[] = [];
      const cacheDir = fs.mkdtempSync(path.join(dir, 'cache-'));
      const cache = await ImageCache.open(files, {
        dir: cacheDir,
        name: 'bombs',
        size: 16,
        workers: 1,
        decoder,
        progress: false,
        log: (line) => lines.push(line),
      });
      expect(cache.isReady(0)).toBe(true);
      expect(cache.skipped).toEqual([{ file: files[1], reason: refusal(files[1]) }]);
      expect(lines).toEqual([`skipping ${refusal(files[1])}`]);
      await cache.close();
    },
  );
});
