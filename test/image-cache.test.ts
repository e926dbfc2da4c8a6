/**
 * The image cache: worker and main-thread builds agree byte for byte with decode + resize, a
 * corrupt file is reported once and skipped, the cache is reused, rebuilt when a source changes
 * and resumed after an interruption, and its colour statistics match numpy's on the same pixels
 * (test/fixtures/images/pca, written by scripts/make_image_fixtures.py).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { decodeImageJs } from '../lib/data/decode-js';
import { decodeImage } from '../lib/data/decoder';
import { ImageCache, type ImageCacheOptions } from '../lib/data/image-cache';
import { resizeStretch } from '../lib/data/resize';
import { type Matrix3, pixelMoments, rgbStats, symmetricEigen3 } from '../lib/data/rgb-stats';
import { scanImageFolder } from '../lib/data/sources';
import { expectClose } from './util/compare';
import { testWithSharp } from './util/optional';
import { Rng, testSeed } from './util/random';

const KAGGLE = path.join(__dirname, 'fixtures', 'images', 'kaggle');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-cache-'));
const files = scanImageFolder(KAGGLE).items.map((i) => i.file);
const SIZE = 24;
const seed = testSeed();

function quiet(dir: string, extra: Partial<ImageCacheOptions> = {}) {
  const lines: string[] = [];
  const options: ImageCacheOptions = {
    dir,
    name: 'images',
    size: SIZE,
    workers: 0,
    decoder: 'js',
    progress: false,
    log: (line) => lines.push(line),
    ...extra,
  };
  return { options, lines };
}

const pixelFile = (dir: string, name = 'images') => path.join(dir, `${name}.${SIZE}-stretch.cache`);

describe('ImageCache', () => {
  test('workers and the main thread store exactly decode + resize; the corrupt file is skipped once', async () => {
    const dir = tmp();
    const inline = quiet(dir);
    const a = await ImageCache.open(files, inline.options);
    const threads = quiet(dir, { name: 'threads', workers: 2 });
    const b = await ImageCache.open(files, threads.options);
    expect(fs.readFileSync(pixelFile(dir, 'threads'))).toEqual(fs.readFileSync(pixelFile(dir)));

    const corrupt = path.join(KAGGLE, 'dog.7.jpg');
    for (const { lines } of [inline, threads]) {
      expect(lines).toEqual([
        `skipping ${corrupt}: corrupt or unsupported JPEG (unknown JPEG marker 0)`,
      ]);
    }
    expect(a.skipped).toEqual([
      { file: corrupt, reason: `${corrupt}: corrupt or unsupported JPEG (unknown JPEG marker 0)` },
    ]);
    const stored = fs.readFileSync(pixelFile(dir));
    const bytes = SIZE * SIZE * 3;
    files.forEach((file, i) => {
      expect(a.isReady(i)).toBe(file !== corrupt);
      if (file === corrupt) return;
      const expected = resizeStretch(decodeImageJs(fs.readFileSync(file), file), SIZE).data;
      expect(new Uint8Array(stored.subarray(i * bytes, (i + 1) * bytes))).toEqual(expected);
    });

    // read() gathers any indices, consecutive runs or not.
    const into = new Uint8Array(3 * bytes);
    await a.read(Int32Array.from([5, 6, 2]), 3, into);
    expect(Buffer.from(into)).toEqual(
      Buffer.concat([stored.subarray(5 * bytes, 7 * bytes), stored.subarray(2 * bytes, 3 * bytes)]),
    );
    await a.close();
    await b.close();

    // Reopening reuses the cache and mentions the skipped file in one line, without re-decoding.
    const again = quiet(dir);
    const c = await ImageCache.open(files, again.options);
    expect(again.lines).toEqual([
      `${a.file}: 1 unreadable image(s) skipped when the cache was built (first: ` +
        `${corrupt}: corrupt or unsupported JPEG (unknown JPEG marker 0))`,
    ]);
    await c.close();
  });

  test('a changed, added or missing source rebuilds the cache', async () => {
    const data = tmp();
    const copies = files.slice(0, 4).map((file) => {
      const copy = path.join(data, path.basename(file));
      fs.copyFileSync(file, copy);
      return copy;
    });
    const dir = tmp();
    const first = quiet(dir);
    await (await ImageCache.open(copies, first.options)).close();
    const before = fs.readFileSync(pixelFile(dir));

    const same = quiet(dir);
    await (await ImageCache.open(copies, same.options)).close();
    expect(same.lines).toEqual([]);

    // Another image's bytes under the same name (and a new mtime).
    fs.copyFileSync(files[8], copies[1]);
    fs.utimesSync(copies[1], new Date(), new Date(Date.now() + 5000));
    const changed = quiet(dir);
    await (await ImageCache.open(copies, changed.options)).close();
    expect(changed.lines).toEqual([
      `rebuilding the image cache ${pixelFile(dir)}.json: ${copies[1]} is not the file it was built from`,
    ]);
    const after = fs.readFileSync(pixelFile(dir));
    const bytes = SIZE * SIZE * 3;
    expect(after.subarray(bytes, 2 * bytes).equals(before.subarray(bytes, 2 * bytes))).toBe(false);
    expect(after.subarray(0, bytes).equals(before.subarray(0, bytes))).toBe(true);

    const added = quiet(dir);
    await (await ImageCache.open([...copies, files[9]], added.options)).close();
    expect(added.lines[0]).toMatch(/it holds 4 images and the list has 5$/);

    await (await ImageCache.open(copies, quiet(dir).options)).close();
    fs.unlinkSync(copies[0]);
    const missing = quiet(dir);
    const cache = await ImageCache.open(copies, missing.options);
    expect(missing.lines).toEqual([
      `rebuilding the image cache ${pixelFile(dir)}.json: ${copies[0]} is not the file it was built from`,
      `skipping ${copies[0]}: cannot read the file (ENOENT)`,
    ]);
    expect(cache.isReady(0)).toBe(false);
    await cache.close();
  });

  testWithSharp(
    'the cache records its decoder and is rebuilt with the pixels of another',
    async () => {
      const dir = tmp();
      const byJs = quiet(dir);
      const js = await ImageCache.open(files, byJs.options);
      expect(js.decoder).toBe('js');
      await js.close();
      // A manifest from before the decoder was recorded holds jpeg-js pixels: it is kept for 'js'.
      const manifestFile = `${pixelFile(dir)}.json`;
      const { decoder: _, ...legacy } = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      fs.writeFileSync(manifestFile, JSON.stringify(legacy));
      const reused = quiet(dir);
      await (await ImageCache.open(files, reused.options)).close();
      expect(reused.lines.filter((line) => line.startsWith('rebuilding'))).toEqual([]);

      const bySharp = quiet(dir, { decoder: 'sharp', workers: 2 });
      const sharp = await ImageCache.open(files, bySharp.options);
      expect(bySharp.lines[0]).toBe(
        `rebuilding the image cache ${manifestFile}: it was decoded by 'js' and the decoder is now 'sharp'`,
      );
      expect(sharp.decoder).toBe('sharp');
      const stored = fs.readFileSync(pixelFile(dir));
      const bytes = SIZE * SIZE * 3;
      for (const [i, file] of files.entries()) {
        if (!sharp.isReady(i)) continue;
        const decoded = await decodeImage(fs.readFileSync(file), file, { decoder: 'sharp' });
        const expected = resizeStretch(decoded, SIZE).data;
        expect(new Uint8Array(stored.subarray(i * bytes, (i + 1) * bytes))).toEqual(expected);
      }
      await sharp.close();
      const back = quiet(dir);
      await (await ImageCache.open(files, back.options)).close();
      expect(back.lines[0]).toMatch(/it was decoded by 'sharp' and the decoder is now 'js'$/);
    },
  );

  test('an interrupted build resumes where it stopped and ends with the same bytes', async () => {
    const whole = tmp();
    await (await ImageCache.open(files, quiet(whole).options)).close();

    const dir = tmp();
    const controller = new AbortController();
    // The progress lines of a non-terminal stream come every tenth: stop at the first.
    const stopper = new Writable({
      write(_chunk, _encoding, done) {
        controller.abort();
        done();
      },
    });
    const interrupted = quiet(dir, { progress: stopper, signal: controller.signal });
    await expect(ImageCache.open(files, interrupted.options)).rejects.toThrow(
      /^Building the image cache .* was interrupted after 2 of 16 images; run again to resume$/,
    );
    const resumed = quiet(dir);
    const cache = await ImageCache.open(files, resumed.options);
    expect(resumed.lines[0]).toBe(`resuming the image cache ${cache.file}: 2 of 16 images done`);
    expect(fs.readFileSync(pixelFile(dir))).toEqual(fs.readFileSync(pixelFile(whole)));
    const reference = await ImageCache.open(files, quiet(whole).options);
    expect(cache.rgbStats()).toEqual(reference.rgbStats());
    await reference.close();
    await cache.close();
  });

  describe(`a corrupt cache (seed ${seed})`, () => {
    const bytes = SIZE * SIZE * 3;
    /** What image i must read as: its source decoded and resized now. */
    const expected = (i: number) =>
      resizeStretch(decodeImageJs(fs.readFileSync(files[i]), files[i]), SIZE).data;

    test('a flipped bit fails the checksum: the image is decoded again, never handed out; each image is checked once per process', async () => {
      const rng = new Rng(seed);
      const dir = tmp();
      const built = await ImageCache.open(files, quiet(dir).options);
      const ready = files.map((_, i) => i).filter((i) => built.isReady(i));
      await built.close();
      const clean = fs.readFileSync(pixelFile(dir));
      const i = ready[rng.int(1, ready.length)[0]];
      const at = i * bytes + rng.int(1, bytes)[0];
      const flipped = Buffer.from(clean);
      flipped[at] ^= 1 << rng.int(1, 8)[0];
      fs.writeFileSync(pixelFile(dir), flipped);

      const opened = quiet(dir);
      const cache = await ImageCache.open(files, opened.options);
      const into = new Uint8Array(2 * bytes);
      const other = ready.find((j) => j !== i)!;
      await cache.read(Int32Array.from([other, i]), 2, into);
      expect(Buffer.from(into.subarray(bytes))).toEqual(Buffer.from(expected(i)));
      expect(Buffer.from(into.subarray(0, bytes))).toEqual(Buffer.from(expected(other)));
      const checksumLines = () => opened.lines.filter((l) => l.includes('checksum'));
      expect(checksumLines()).toEqual([
        `${cache.file}: image ${i} (${files[i]}) failed its checksum; decoded it again`,
      ]);
      // Repaired on disk too.
      expect(fs.readFileSync(pixelFile(dir))).toEqual(clean);
      // Checked once per process: flipped again on disk after its check, image i is handed out
      // as the file now has it, with no second check, while an image not yet read (here also
      // flipped) is still checked and repaired. A second check of i would repair it and say so.
      const unread = ready.find((j) => j !== i && j !== other)!;
      const again = Buffer.from(clean);
      again[at] ^= 1 << rng.int(1, 8)[0];
      again[unread * bytes] ^= 1;
      fs.writeFileSync(pixelFile(dir), again);
      await cache.read(Int32Array.from([i, unread]), 2, into);
      expect(Buffer.from(into.subarray(0, bytes))).toEqual(
        again.subarray(i * bytes, (i + 1) * bytes),
      );
      expect(Buffer.from(into.subarray(bytes))).toEqual(Buffer.from(expected(unread)));
      expect(checksumLines()).toEqual([
        `${cache.file}: image ${i} (${files[i]}) failed its checksum; decoded it again`,
        `${cache.file}: image ${unread} (${files[unread]}) failed its checksum; decoded it again`,
      ]);
      await cache.close();
    });

    test('an image whose source is gone cannot be repaired: an error names both', async () => {
      const dir = tmp();
      const copies = files.slice(0, 3).map((file, k) => {
        const copy = path.join(dir, `copy${k}${path.extname(file)}`);
        fs.copyFileSync(file, copy);
        return copy;
      });
      await (await ImageCache.open(copies, quiet(dir).options)).close();
      const pixels = fs.readFileSync(pixelFile(dir));
      pixels[0] ^= 0x80;
      fs.writeFileSync(pixelFile(dir), pixels);
      const cache = await ImageCache.open(copies, quiet(dir).options);
      fs.rmSync(copies[0]);
      await expect(cache.read(Int32Array.from([0]), 1, new Uint8Array(bytes))).rejects.toThrow(
        `${cache.file}: image 0 failed its checksum and cannot be decoded again from ${copies[0]}: ` +
          `${copies[0]}: cannot read the file (ENOENT)`,
      );
      await cache.close();
    });

    test('a truncated pixel file or manifest is rebuilt', async () => {
      const dir = tmp();
      await (await ImageCache.open(files, quiet(dir).options)).close();
      const clean = fs.readFileSync(pixelFile(dir));
      fs.truncateSync(pixelFile(dir), clean.length - 1000);
      const cut = quiet(dir);
      await (await ImageCache.open(files, cut.options)).close();
      expect(cut.lines[0]).toBe(
        `rebuilding the image cache ${pixelFile(dir)}.json: its pixel file ${pixelFile(dir)} is missing or has the wrong size`,
      );
      expect(fs.readFileSync(pixelFile(dir))).toEqual(clean);

      const manifest = `${pixelFile(dir)}.json`;
      fs.truncateSync(manifest, fs.statSync(manifest).size >> 1);
      fs.writeFileSync(pixelFile(dir), Buffer.alloc(clean.length));
      await (await ImageCache.open(files, quiet(dir).options)).close();
      expect(fs.readFileSync(pixelFile(dir))).toEqual(clean);
    });
  });
});

interface PcaFixture {
  count: number;
  height: number;
  width: number;
  pixels: string;
  mean255: number[];
  std255: number[];
  covariance: number[][];
  eigenvalues: number[];
  eigenvectors: number[][];
}

describe(`colour statistics (seed ${seed})`, () => {
  const fixture: PcaFixture = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'fixtures', 'images', 'pca', 'meta.json'), 'utf8'),
  );
  const pixels = Uint8Array.from(Buffer.from(fixture.pixels, 'base64'));
  const perImage = fixture.height * fixture.width;
  const moments = Array.from({ length: fixture.count }, (_, i) =>
    pixelMoments(pixels.subarray(i * perImage * 3, (i + 1) * perImage * 3)),
  );

  // numpy computes the covariance by centring first (np.cov); we subtract E[x]E[y] from exact
  // integer sums: both are within ~1e-15 relative of the true value for these ~1e-2 entries.
  test('mean, std and covariance match numpy on the same pixels', () => {
    const stats = rgbStats(moments, perImage);
    expectClose(stats.mean, fixture.mean255, { rtol: 1e-12, atol: 0 });
    expectClose(stats.std, fixture.std255, { rtol: 1e-12, atol: 0 });
    expectClose(stats.covariance.flat(), fixture.covariance.flat(), { rtol: 1e-10, atol: 1e-15 });
  });

  test('the eigen-decomposition matches numpy.linalg.eigh (vectors up to sign)', () => {
    const stats = rgbStats(moments, perImage);
    expectClose(stats.eigenvalues, fixture.eigenvalues, { rtol: 1e-10, atol: 1e-15 });
    for (let i = 0; i < 3; ++i) {
      const ours = stats.eigenvectors.map((row) => row[i]);
      const theirs = fixture.eigenvectors.map((row) => row[i]);
      const sign = Math.sign(ours.reduce((s, v, c) => s + v * theirs[c], 0));
      expectClose(
        ours.map((v) => sign * v),
        theirs,
        { rtol: 0, atol: 1e-9 },
      );
    }
  });

  test('random symmetric matrices: A v = lambda v, orthonormal, descending', () => {
    const rng = new Rng(seed);
    for (let trial = 0; trial < 50; ++trial) {
      const r = rng.uniform(6, -1, 1);
      const a: Matrix3 = [
        [r[0], r[1], r[2]],
        [r[1], r[3], r[4]],
        [r[2], r[4], r[5]],
      ];
      const { values, vectors } = symmetricEigen3(a);
      expect(values[0]).toBeGreaterThanOrEqual(values[1]);
      expect(values[1]).toBeGreaterThanOrEqual(values[2]);
      for (let i = 0; i < 3; ++i) {
        const v = vectors.map((row) => row[i]);
        const av = a.map((row) => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
        expectClose(
          av,
          v.map((x) => values[i] * x),
          { rtol: 0, atol: 1e-12 },
        );
        for (let j = 0; j < 3; ++j) {
          const dot = vectors.reduce((s, row) => s + row[i] * row[j], 0);
          expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
        }
      }
    }
  });
});
