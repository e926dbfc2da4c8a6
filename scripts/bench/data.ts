/**
 * `npm run bench -- data`: the image pipeline's throughput on this machine.
 *
 * 1. Building the cache (read + decode + resize to 256 x 256 + colour moments), in images/s,
 *    with the worker pool and on the main thread alone, for each decoder side by side: sharp
 *    (libvips) and jpeg-js (decoder.ts), with the ratio. The JPEG decode alone, per image on the
 *    main thread, separates the decoders' own speed from the rest of the build.
 * 2. Producing training batches from the cache (batch 128, 227 x 227: random crop, mirror, PCA
 *    colour shift, mean and scale through the native augment op), in images/s, with the parts
 *    apart: reading the batch's pixels from the cache file, and the augment op alone.
 *
 * 3. With `--weights bvlc_alexnet.npy`, how often the two decoders' pixels give the same top-1
 *    class and top-5 set (decoder-agreement.ts).
 *
 * The images are synthetic JPEGs of the typical Kaggle Dogs vs. Cats size (about 500 x 375, the
 * set's median is 447 x 374) with smooth content plus noise, so that they compress like photos
 * (tens of KB at quality 90); `--images-dir` takes a real folder instead. Generated images are
 * kept in the temporary folder and reused by later runs.
 *
 * Batch rates are per pass over the cache; the table gives the median pass and the best one,
 * because on a shared machine other processes take the cores for some passes and not others.
 * It also gives images per CPU-second (this process's user + system time, all its threads),
 * which other processes disturb much less than wall-clock rates.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { CachedDataset } from '../../lib/data/cached-dataset';
import { type DecoderName, decodeImage, decoders } from '../../lib/data/decoder';
import { ImageCache } from '../../lib/data/image-cache';
import { storedSize } from '../../lib/data/resize';
import { scanImageFolder } from '../../lib/data/sources';
import type { Normalisation } from '../../lib/io/preprocessing';
import { augment } from '../../lib/ops/augment';
import { Rng } from '../../lib/random';
import { Tensor } from '../../lib/tensor';
import { type Flags, parseFlags } from '../cli';
import { agreementImages, decoderAgreement } from './decoder-agreement';
import { median } from './timing';

const USAGE = `Usage: npm run bench -- data [options]

Measures building the image cache (decode + resize) and producing augmented batches from it.`;

const FLAGS: Flags = {
  images: { type: 'string', description: 'synthetic images to generate', default: '512' },
  'images-dir': {
    type: 'string',
    description: 'a folder of real images to use instead (Kaggle names or class folders)',
    placeholder: 'dir',
  },
  'batch-size': { type: 'string', description: 'images per batch', default: '128' },
  'input-size': { type: 'string', description: 'crop side', default: '227' },
  epochs: { type: 'string', description: 'timed passes over the cache', default: '8' },
  weights: {
    type: 'string',
    description: 'bvlc_alexnet.npy: also measure how often the decoders agree on its top 5',
    placeholder: 'file',
  },
  'agreement-dir': {
    type: 'string',
    description: 'JPEGs for the agreement (default: the decoder and Kaggle fixtures)',
    placeholder: 'dir',
  },
  help: { type: 'boolean', description: 'show this help' },
};

/** A photo-like RGB image: smooth gradients and blobs plus per-pixel noise. */
function syntheticImage(width: number, height: number, rng: Rng): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  const phases = rng.uniform(6, 0, 2 * Math.PI);
  const base = rng.uniform(3, 60, 200);
  for (let y = 0; y < height; ++y) {
    for (let x = 0; x < width; ++x) {
      const p = (y * width + x) * 4;
      for (let c = 0; c < 3; ++c) {
        const smooth =
          base[c] +
          50 * Math.sin((x / width) * 6 + phases[c]) * Math.cos((y / height) * 5 + phases[c + 3]);
        rgba[p + c] = Math.max(0, Math.min(255, Math.round(smooth + rng.gaussian(4))));
      }
      rgba[p + 3] = 255;
    }
  }
  return rgba;
}

function syntheticFolder(count: number): string {
  const dir = path.join(os.tmpdir(), `alexnet-bench-data-v2-${count}`);
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const rng = new Rng(12);
  process.stderr.write(`generating ${count} JPEGs in ${dir}\n`);
  for (let i = 0; i < count; ++i) {
    const width = 440 + rng.below(120);
    const height = 330 + rng.below(90);
    const data = syntheticImage(width, height, rng);
    const label = i % 2 === 0 ? 'cat' : 'dog';
    fs.writeFileSync(
      path.join(dir, `${label}.${i}.jpg`),
      jpeg.encode({ data, width, height }, 90).data,
    );
  }
  fs.writeFileSync(done, '');
  return dir;
}

const seconds = (start: number) => (performance.now() - start) / 1000;

/** CPU seconds this process (all threads) has used since `start` (a process.cpuUsage()). */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** Rows of images/s decoding the first files alone (read beforehand), on the main thread. */
async function decodeAlone(files: string[], names: DecoderName[]): Promise<string[]> {
  const bytes = files.map((file) => fs.readFileSync(file));
  const rows: string[] = [];
  for (const decoder of names) {
    const decode = () => Promise.all(bytes.map((b, i) => decodeImage(b, files[i], { decoder })));
    await decode();
    const rates: number[] = [];
    const cpu = process.cpuUsage();
    for (let r = 0; r < 5; ++r) {
      const start = performance.now();
      // One at a time: the decoder's own speed on one core, not its parallelism.
      for (let i = 0; i < bytes.length; ++i) await decodeImage(bytes[i], files[i], { decoder });
      rates.push(bytes.length / seconds(start));
    }
    rows.push(
      `| JPEG decode alone, ${decoder}, one image at a time | ${median(rates).toFixed(0)} | ${Math.max(...rates).toFixed(0)} | ${((5 * bytes.length) / cpuSeconds(cpu)).toFixed(0)} |`,
    );
  }
  return rows;
}

/** What every stage of the bench works on. */
interface DataRun {
  files: string[];
  list: ReturnType<typeof scanImageFolder>;
  /** The cached images' side. */
  size: number;
  batchSize: number;
  inputSize: number;
  epochs: number;
  cacheDir: string;
  /** The decoders to time: sharp first where it loads, then jpeg-js. */
  names: DecoderName[];
}

const QUIET = { progress: false as const, log: () => {} };

/** Reads the options, finds or makes the images, and prints the machine and the images. */
function setUp(args: ReturnType<typeof parseFlags>): DataRun {
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  const count = args.number('images', positive, 'positive integer')!;
  const batchSize = args.number('batch-size', positive, 'positive integer')!;
  const inputSize = args.number('input-size', positive, 'positive integer')!;
  const epochs = args.number('epochs', positive, 'positive integer')!;
  const list = scanImageFolder(args.string('images-dir') ?? syntheticFolder(count));
  const files = list.items.map((item) => item.file);
  const size = storedSize(inputSize);
  const bytesOnDisk = files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-cache-'));
  console.log(
    `${os.cpus()[0].model}, ${os.availableParallelism()} cores, load average ` +
      `${os.loadavg()[0].toFixed(2)} at the start, Node ${process.version}`,
  );
  console.log(
    `${files.length} JPEGs, ${(bytesOnDisk / files.length / 1024).toFixed(1)} KB on average, ` +
      `cached at ${size} x ${size}; batches of ${batchSize} at ${inputSize} x ${inputSize}`,
  );
  const available = decoders();
  const names: DecoderName[] = available.default === 'sharp' ? ['sharp', 'js'] : ['js'];
  console.log(
    typeof available.sharp === 'string'
      ? `decoders: ${available.sharp}; jpeg-js`
      : `decoders: jpeg-js only (sharp cannot be loaded: ${available.sharp.unavailable})`,
  );
  return { files, list, size, batchSize, inputSize, epochs, cacheDir, names };
}

/** Rows of cache builds: with the worker pool and on the main thread, each decoder. */
async function cacheBuildRows(run: DataRun): Promise<string[]> {
  const rows: string[] = [];
  const builds = new Map<string, number>();
  for (const workers of [os.availableParallelism(), 0]) {
    for (const decoder of run.names) {
      const start = performance.now();
      const cpu = process.cpuUsage();
      const cache = await ImageCache.open(run.files, {
        dir: run.cacheDir,
        name: `${decoder}-workers${workers}`,
        size: run.size,
        workers,
        decoder,
        ...QUIET,
      });
      const rate = run.files.length / seconds(start);
      const perCpu = run.files.length / cpuSeconds(cpu);
      await cache.close();
      builds.set(`${decoder} ${workers}`, rate);
      const how = workers === 0 ? 'main thread only' : `${workers} worker threads`;
      const ratio =
        decoder === 'js' && builds.has(`sharp ${workers}`)
          ? ` (sharp: ${(builds.get(`sharp ${workers}`)! / rate).toFixed(2)}x)`
          : '';
      rows.push(
        `| cache build (read, decode, resize, moments), ${decoder}, ${how}${ratio} | ${rate.toFixed(1)} | | ${perCpu.toFixed(1)} |`,
      );
    }
  }
  return rows;
}

/** Median and best of per-pass rates, and images per CPU-second over all passes: table cells. */
function summary(rates: number[], images: number, cpu: NodeJS.CpuUsage): string {
  const sorted = [...rates].sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)];
  const perCpu = images / cpuSeconds(cpu);
  return `${middle.toFixed(0)} | ${sorted[sorted.length - 1].toFixed(0)} | ${perCpu.toFixed(0)} |`;
}

/** Rows of whole passes over the cache: training batches, then validation batches. */
async function batchRows(run: DataRun, cache: ImageCache, norm: Normalisation): Promise<string[]> {
  const all = Int32Array.from(run.files, (_, i) => i);
  const dataset = new CachedDataset(cache, run.list, all, {
    inputSize: run.inputSize,
    device: 'cpu',
    normalisation: norm,
    randomCrop: true,
    mirror: true,
    pcaStd: 0.1,
  });
  /** images/s of one pass over the cache. */
  const pass = async (epoch: number, rng: boolean) => {
    const start = performance.now();
    let n = 0;
    for await (const batch of dataset.batches(run.batchSize, rng ? new Rng(epoch) : undefined)) {
      n += batch.n;
    }
    return n / seconds(start);
  };
  const rows: string[] = [];
  await pass(0, true);
  for (const [label, rng] of [
    ['training batches (read + crop, mirror, PCA shift, normalise)', true],
    ['validation batches (read + centre crop, normalise)', false],
  ] as const) {
    const rates: number[] = [];
    const cpu = process.cpuUsage();
    for (let e = 1; e <= run.epochs; ++e) rates.push(await pass(e, rng));
    rows.push(`| ${label} | ${summary(rates, run.epochs * run.files.length, cpu)}`);
  }
  dataset.dispose();
  return rows;
}

/** The two parts of a batch apart: reading random images, and the augment op alone. */
async function partRows(run: DataRun, cache: ImageCache, norm: Normalisation): Promise<string[]> {
  const rng = new Rng(3);
  const all = Int32Array.from(run.files, (_, i) => i);
  const n = Math.min(run.batchSize, run.files.length);
  const staging = new Uint8Array(n * cache.imageBytes);
  const repeats = Math.max(8, Math.round((run.epochs * run.files.length) / n));
  const timed = async (step: () => unknown) => {
    const rates: number[] = [];
    const cpu = process.cpuUsage();
    for (let r = 0; r < repeats; ++r) {
      const start = performance.now();
      await step();
      rates.push(n / seconds(start));
    }
    return summary(rates, repeats * n, cpu);
  };
  const rows = [
    `| reading ${n} random images from the cache file (page cache) | ${await timed(() =>
      cache.read(rng.shuffle(Int32Array.from(all)), n, staging),
    )}`,
  ];
  const x = Tensor.zeros([n, 3, run.inputSize, run.inputSize]);
  const crops = rng.int(2 * n, run.size - run.inputSize + 1);
  const mirror = Uint8Array.from(rng.int(n, 2));
  const rgbShift = rng.normal(3 * n, 5);
  rows.push(
    `| augment op alone (crop, mirror, shift, normalise to float32 NCHW) | ${await timed(() =>
      augment(staging, { count: n, height: run.size, width: run.size }, x, {
        crops,
        mirror,
        rgbShift,
        ...norm,
      }),
    )}`,
  );
  x.dispose();
  return rows;
}

export async function benchData(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  const run = setUp(args);
  const rows = await cacheBuildRows(run);
  rows.push(...(await decodeAlone(run.files.slice(0, 64), run.names)));

  const cache = await ImageCache.open(run.files, {
    dir: run.cacheDir,
    name: `${run.names[0]}-workers${os.availableParallelism()}`,
    size: run.size,
    ...QUIET,
  });
  const stats = cache.rgbStats();
  const norm: Normalisation = {
    mean: stats.mean,
    scale: stats.std.map((s) => 1 / s) as [number, number, number],
    bgr: false,
  };
  rows.push(...(await batchRows(run, cache, norm)));
  rows.push(...(await partRows(run, cache, norm)));
  await cache.close();
  fs.rmSync(run.cacheDir, { recursive: true, force: true });

  console.log(`load average ${os.loadavg()[0].toFixed(2)} at the end\n`);
  console.log(
    '| stage | images/s (median pass) | best pass | images per CPU-second |\n|---|---|---|---|',
  );
  for (const row of rows) console.log(row);

  const weights = args.string('weights');
  if (weights && run.names.includes('sharp')) {
    const files = agreementImages(args.string('agreement-dir'));
    console.log(`\n${files.length} JPEGs classified from each decoder's pixels:\n`);
    console.log('| agreement | |\n|---|---|');
    for (const row of await decoderAgreement(weights, files)) console.log(row);
  }
}
