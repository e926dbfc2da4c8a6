/**
 * Fuzzing of every reader of outside files (test/util/fuzz.ts says what each case must keep:
 * only our typed errors naming the file, bounded CPU time, bounded memory). Each target first
 * runs its corpus unchanged (the real files it mutates, and test/fixtures/fuzz/<target>.json,
 * which keeps every input that once broke a property), then generated inputs for the budget:
 * 3 s each in `npm test`, ALEXNET_FUZZ_SECONDS each in `npm run fuzz`. The package writes
 * TensorBoard event files and ONNX models but reads neither, so there is no .tfevents or .onnx
 * target.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { decodeImageJs } from '../lib/data/decode-js';
import { decodeImage } from '../lib/data/decoder';
import { openDataSource, readImageList, scanImageFolder } from '../lib/data/sources';
import { type BvlcTarget, readBvlcWeights } from '../lib/io/bvlc';
import { readCheckpoint } from '../lib/io/checkpoint';
import { unpickle } from '../lib/io/pickle';
import { readPth } from '../lib/io/pth';
import { readSafetensors } from '../lib/io/safetensors';
import { LAYER_NAMES } from '../lib/nn/architecture';
import { type FuzzResult, fuzz, fuzzSeconds } from './util/fuzz';
import {
  checkpointFile,
  folderTree,
  headerOnly,
  imageListFiles,
  pickleStream,
  safetensorsFile,
  type TreeEntry,
} from './util/fuzz-inputs';
import { capJpegDimensions, capPngDimensions } from './util/image-dimensions';
import { fixPngCrcs, type Mutation, mutate, mutatedFile, type Seed } from './util/mutate';
import { FIXTURES } from './util/npy';
import { testWithSharp } from './util/optional';
import { testSeed } from './util/random';

type Mutated = { bytes: Uint8Array };

const seed = testSeed();
const results: FuzzResult[] = [];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-fuzz-'));

/** Real files to mutate, by path under test/fixtures. */
function seeds(...files: string[]): Seed[] {
  return files.map((file) => ({ name: file, bytes: fs.readFileSync(path.join(FIXTURES, file)) }));
}

/**
 * The inputs that once broke a property, kept in test/fixtures/fuzz/<target>.json as
 * `{ found, input }`: what went wrong, and the input as the target's generator makes it.
 */
function regressions<T>(target: string): { found: string; input: T }[] {
  const file = path.join(FIXTURES, 'fuzz', `${target}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
}

/**
 * A mutated-file regression: `seed` (a path under test/fixtures, or '' for no bytes) and the
 * mutations fast-check reported, bytes as arrays of numbers.
 */
function mutatedRegressions(
  target: string,
  finish: (bytes: Uint8Array) => Uint8Array = (bytes) => bytes,
): Mutated[] {
  return regressions<{ seed: string; mutations: Mutation[] }>(target).map(({ found, input }) => {
    const base =
      input.seed === '' ? new Uint8Array(0) : fs.readFileSync(path.join(FIXTURES, input.seed));
    const edits = input.mutations.map((m) =>
      m.kind === 'insert' ? { ...m, bytes: Uint8Array.from(m.bytes) } : m,
    );
    return {
      bytes: finish(mutate(base, edits)),
      [fc.toStringMethod]: () => `${target}.json: ${found}`,
    };
  });
}

/** Writes `bytes` to a scratch file named after `file` (the name errors must carry). */
function onDisk(bytes: Uint8Array, file: string): string {
  const full = path.join(scratch, file);
  fs.writeFileSync(full, bytes);
  return full;
}

/** The seeds as inputs of a mutated-file target, named in a failure report. */
function unchanged(corpus: Seed[]): Mutated[] {
  return corpus.map((s) => ({ bytes: s.bytes, [fc.toStringMethod]: () => s.name }));
}

function bvlcTarget(): BvlcTarget {
  const meta = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'bvlc', 'meta.json'), 'utf8'));
  const shapes: Record<string, number[]> = {};
  for (const [layer, [w, b]] of Object.entries(meta.shapes as Record<string, number[][]>)) {
    // The file's HWIO and (in, out) layouts, as ours: OIHW and (out, in).
    shapes[`${layer}.weight`] = w.length === 4 ? [w[3], w[2], w[0], w[1]] : [w[1], w[0]];
    shapes[`${layer}.bias`] = b;
  }
  return { layers: LAYER_NAMES, shapes, pool5: meta.pool5 };
}

/** Makes the files and folders of `tree` under a fresh `root`, skipping the ones that clash. */
function makeTree(root: string, tree: TreeEntry[]): void {
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root);
  for (const entry of tree) {
    if (entry.path.some((part) => part === '.' || part === '..' || part.includes('\0'))) continue;
    const full = path.join(root, ...entry.path);
    try {
      fs.mkdirSync(entry.folder ? full : path.dirname(full), { recursive: true });
      if (!entry.folder) fs.writeFileSync(full, 'not an image');
    } catch {
      // A file where a folder was wanted, or the reverse: the tree keeps the first.
    }
  }
}

async function run<T>(
  target: string,
  inputs: fc.Arbitrary<T>,
  parse: (input: T, file: string) => unknown,
  corpus: T[] = [],
) {
  results.push(await fuzz(target, inputs, parse, seed, {}, corpus));
}

/** A mutated-file target: its corpus unchanged, then mutations of it. */
function runMutated(
  target: string,
  corpus: Seed[],
  parse: (bytes: Uint8Array, file: string) => unknown,
  finish?: (bytes: Uint8Array) => Uint8Array,
) {
  // Saved inputs are replayed as the generated ones are checked, through `finish`. For the
  // decoders that is the dimension cap (test/util/image-dimensions.ts): the decoders now refuse
  // images over maxPixels from the header (test/decompression-bomb.test.ts), but below it
  // jpeg-js's time still follows the declared size: uncapped, both inputs of decode-jpeg.json
  // take seconds of CPU (6 s measured for the first), over the 2 s a case may use.
  const kept = mutatedRegressions(target, finish);
  return run(target, mutatedFile(corpus, 6, finish), (f: Mutated, file) => parse(f.bytes, file), [
    ...unchanged(corpus),
    ...kept,
  ]);
}

describe(`fuzzing (seed ${seed}, ${fuzzSeconds()} s per target)`, () => {
  afterAll(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
    const lines = results.map(
      (r) =>
        `  ${r.target.padEnd(20)} ${String(r.cases).padStart(8)} cases in ${r.seconds.toFixed(1)} s`,
    );
    const memory = results.every((r) => r.memoryChecked)
      ? ''
      : ' (peak memory not measurable here)';
    process.stdout.write(`fuzz cases run, seed ${seed}${memory}:\n${lines.join('\n')}\n`);
  });

  const timeout = (fuzzSeconds() + 60) * 1000;

  test(
    'pickle: mutated pickles Python wrote',
    async () => {
      const corpus = seeds(
        'bvlc/pickles/protocol2.pkl',
        'bvlc/pickles/protocol3.pkl',
        'bvlc/pickles/protocol4.pkl',
      );
      await runMutated('pickle-mutated', corpus, (bytes, file) => unpickle(bytes, file));
    },
    timeout,
  );

  test(
    'pickle: generated opcode streams',
    async () => {
      await run('pickle-opcodes', pickleStream, (bytes: Uint8Array, file) => unpickle(bytes, file));
    },
    timeout,
  );

  test(
    'pickle: generated opcode streams, torch allow-list',
    async () => {
      await run('pickle-torch', pickleStream, (bytes: Uint8Array, file) =>
        unpickle(bytes, file, 'torch'),
      );
    },
    timeout,
  );

  test(
    '.pth: mutated torch.save files, zip and legacy',
    async () => {
      const corpus = seeds(
        'torchvision/dtypes.pth',
        'torchvision/dtypes_legacy.pth',
        'torchvision/evil_global_legacy.pth',
        'torchvision/past_storage.pth',
      );
      await runMutated('pth-mutated', corpus, (bytes, file) => readPth(onDisk(bytes, file)));
    },
    timeout,
  );

  test(
    '.npy: mutated bvlc_alexnet.npy-style files, read into a model',
    async () => {
      const corpus = seeds('bvlc/small_py2.npy', 'bvlc/small_py3.npy', 'bvlc/x.npy');
      const target = bvlcTarget();
      await runMutated('npy-bvlc', corpus, (bytes, file) =>
        readBvlcWeights(onDisk(bytes, file), target),
      );
    },
    timeout,
  );

  test(
    'safetensors: mutated files PyTorch wrote',
    async () => {
      const corpus = seeds('safetensors/sample.safetensors');
      await runMutated('safetensors-mutated', corpus, (bytes, file) =>
        readSafetensors(onDisk(bytes, file)),
      );
    },
    timeout,
  );

  test(
    'safetensors: generated headers',
    async () => {
      await run('safetensors-headers', safetensorsFile, (bytes: Uint8Array, file) =>
        readSafetensors(onDisk(bytes, file)),
      );
    },
    timeout,
  );

  test(
    'checkpoints: generated headers with our metadata',
    async () => {
      const corpus = regressions<unknown>('checkpoint').map((r) => headerOnly(r.input));
      await run(
        'checkpoint',
        checkpointFile,
        (bytes: Uint8Array, file) => readCheckpoint(onDisk(bytes, file)),
        corpus,
      );
    },
    timeout,
  );

  test(
    'image lists: generated train.txt and classes.txt',
    async () => {
      type Lists = { list: string; classes: string | null };
      await run(
        'image-list',
        imageListFiles,
        (files: Lists, dir) => {
          const root = path.join(scratch, dir);
          makeTree(root, []);
          const list = path.join(root, 'train.txt');
          fs.writeFileSync(list, files.list);
          if (files.classes !== null)
            fs.writeFileSync(path.join(root, 'classes.txt'), files.classes);
          readImageList(list);
          return openDataSource(list);
        },
        regressions<Lists>('image-list').map((r) => r.input),
      );
    },
    timeout,
  );

  test(
    'class folders: generated trees of names',
    async () => {
      await run(
        'class-folders',
        folderTree,
        (tree: TreeEntry[], dir) => {
          const root = path.join(scratch, dir);
          makeTree(root, tree);
          scanImageFolder(root);
          return openDataSource(root);
        },
        regressions<TreeEntry[]>('class-folders').map((r) => r.input),
      );
    },
    timeout,
  );

  test(
    'decodeImageJs: mutated JPEGs',
    async () => {
      const jpegs = ['rgb.jpg', 'grey.jpg', 'cmyk.jpg'].map((f) => `images/formats/${f}`);
      const corpus = seeds(...jpegs, 'images/kaggle/cat.0.jpg', 'images/kaggle/dog.7.jpg');
      await runMutated(
        'decode-jpeg',
        corpus,
        (bytes, file) => decodeImageJs(bytes, file),
        capJpegDimensions,
      );
    },
    timeout,
  );

  test(
    'decodeImageJs: mutated PNGs, chunk CRCs made valid',
    async () => {
      const pngs = ['rgb.png', 'rgba.png', 'palette.png', 'grey16.png'].map(
        (f) => `images/formats/${f}`,
      );
      const corpus = seeds(...pngs, 'images/kaggle/dog.6.png');
      await runMutated(
        'decode-png',
        corpus,
        (bytes, file) => decodeImageJs(bytes, file),
        (bytes) => fixPngCrcs(capPngDimensions(bytes)),
      );
    },
    timeout,
  );

  // sharp, the default decoder where it loads: libvips's JPEG and PNG readers (libjpeg-turbo,
  // libspng) on the same mutated files, capped alike so that a case stays within its budget.
  testWithSharp(
    'decodeImage with sharp: mutated JPEGs and PNGs',
    async () => {
      const files = ['rgb.jpg', 'cmyk.jpg', 'rgb.png', 'palette.png', 'grey16.png'];
      const corpus = seeds(...files.map((f) => `images/formats/${f}`));
      // PNG files start with 0x89 'PNG'; the rest of the corpus is JPEG.
      const cap = (bytes: Uint8Array) =>
        bytes[0] === 0x89 ? fixPngCrcs(capPngDimensions(bytes)) : capJpegDimensions(bytes);
      await runMutated(
        'decode-sharp',
        corpus,
        (bytes, file) => decodeImage(bytes, file, { decoder: 'sharp' }),
        cap,
      );
    },
    timeout,
  );
});
