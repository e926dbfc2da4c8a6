/**
 * The train command's settings, parsed once from its flags into a typed object; with --resume,
 * from the flags the run was started with (saved in its checkpoints as the strings given), so a
 * resumed run keeps its settings except --epochs. The strings go back into checkpoints as they
 * came (`config`), which keeps checkpoints of earlier versions resumable.
 */
import type { DecodeSettings } from '../lib/data/decoder';
import { AlexNetError } from '../lib/errors';
import { RESIZE_POLICIES, type ResizePolicy } from '../lib/io/preprocessing';
import { checkTrainLayers, type LayerName, PRESETS, type Preset } from '../lib/nn/architecture';
import type { OptimizerKind } from '../lib/train/optimizer';
import type { LrSchedule } from '../lib/train/schedule';
import type { Flags, ParsedFlags } from './cli';
import { decodeFlags } from './decode-flags';

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerKind;
  lr: number;
  /** SGD's. */
  momentum: number;
  /** Adam's and AdamW's. */
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** The learning-rate schedule, given the steps of an epoch (for the cosine and the warmup). */
  schedule(stepsPerEpoch: number): LrSchedule;
  seed: number;
  preset: Preset;
  inputSize: number;
  widthScale: number;
  dropout: number;
  /** The layers that learn; undefined for all. */
  trainLayers?: LayerName[];
  /** Weights to start from (transfer learning). */
  weights?: string;
  /** MNIST images to use (quick runs). */
  limit?: number;
  /** Images to train on; undefined for MNIST. */
  data?: string;
  cacheDir?: string;
  resize: ResizePolicy;
  valFraction: number;
  augment: { randomCrop: boolean; mirror: boolean; pcaStd: number };
  decode: DecodeSettings;
  /** The settings as the flags gave them, by flag name: what checkpoints and the report keep. */
  config: Record<string, string>;
}

const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
const fraction = (n: number) => n >= 0 && n < 1;

/** Each optimizer's --lr and --weight-decay when not given: torch.optim's for Adam and AdamW. */
const DEFAULT_LR: Record<OptimizerKind, number> = { sgd: 0.005, adam: 0.001, adamw: 0.001 };
const DEFAULT_WEIGHT_DECAY: Record<OptimizerKind, number> = { sgd: 5e-4, adam: 0, adamw: 0.01 };
const OPTIMIZERS = Object.keys(DEFAULT_LR) as OptimizerKind[];

/** Parses the number `config[name]` holds, or says which flag is wrong. */
function numberIn(config: Record<string, string>) {
  return (name: string, check: (n: number) => boolean, expected: string): number => {
    const text = config[name];
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || !check(n)) {
      throw new AlexNetError(`Expected ${expected} for --${name} but received '${text}'`);
    }
    return n;
  };
}

/**
 * The flags' values, or with a resumed run's saved config, its values: but a given --epochs
 * (to extend the run), and a given --optimizer (which the checkpoint refuses if it differs).
 * A setting an older checkpoint lacks takes the flag's value.
 */
function rawSetting(
  name: string,
  args: ParsedFlags,
  flags: Flags,
  saved?: Record<string, unknown>,
): string {
  const fromRun =
    saved?.[name] !== undefined && !(['epochs', 'optimizer'].includes(name) && args.given(name));
  if (fromRun) return String(saved![name]);
  if (flags[name].type === 'boolean') return String(args.flag(name));
  return args.string(name) ?? '';
}

/** One schedule of --lr-schedule over a run of `totalSteps` steps, before any warmup. */
function baseSchedule(name: string, lrStep: string, totalSteps: number): LrSchedule {
  switch (name) {
    case 'none':
      return { kind: 'constant' };
    case 'plateau':
      return { kind: 'plateau', patience: 2, factor: 0.1 };
    case 'cosine':
      return { kind: 'cosine', totalSteps };
    case 'step': {
      const every = Number(lrStep);
      if (!positiveInt(every)) {
        throw new AlexNetError(
          `Expected a positive integer, 'plateau' or 'none' for --lr-step but received '${lrStep}'`,
        );
      }
      return { kind: 'step', every, gamma: 0.1 };
    }
    default:
      throw new AlexNetError(
        `Expected 'step', 'plateau', 'cosine' or 'none' for --lr-schedule but received '${name}'`,
      );
  }
}

/**
 * --lr-schedule (with --lr-step) and --warmup-epochs as a schedule, given an epoch's steps;
 * checked now, before any data is read.
 */
function lrSchedule(
  name: string,
  lrStep: string,
  epochs: number,
  warmupEpochs: number,
): (stepsPerEpoch: number) => LrSchedule {
  baseSchedule(name, lrStep, 1);
  return (stepsPerEpoch) => {
    const schedule = baseSchedule(name, lrStep, epochs * stepsPerEpoch);
    const steps = Math.round(warmupEpochs * stepsPerEpoch);
    return steps > 0 ? { ...schedule, warmup: { steps } } : schedule;
  };
}

function oneOf<T extends string>(allowed: readonly T[], name: string, text: string): T {
  if (!allowed.includes(text as T)) {
    const quoted = allowed.map((a) => `'${a}'`);
    const list = `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
    throw new AlexNetError(`Expected ${list} for --${name} but received '${text}'`);
  }
  return text as T;
}

/** Parses the train command's settings; `saved` is the config of the run --resume continues. */
export function trainSettings(
  args: ParsedFlags,
  flags: Flags,
  saved?: Record<string, unknown>,
): TrainSettings {
  const config = Object.fromEntries(
    Object.keys(flags)
      .filter(
        (name) => !['help', 'out', 'resume', 'distributed', 'device', 'workers'].includes(name),
      )
      .map((name) => [name, rawSetting(name, args, flags, saved)]),
  );
  const num = numberIn(config);
  const flag = (name: string) => config[name] === 'true';
  const limit = config.limit ? num('limit', positiveInt, 'positive integer') : undefined;
  if (limit !== undefined && config.data) {
    throw new AlexNetError('--limit applies to the MNIST default; it cannot be used with --data');
  }
  const layers = config['train-layers'];
  const optimizer = oneOf(OPTIMIZERS, 'optimizer', config.optimizer);
  // Defaults that depend on the optimizer; the checkpoint keeps the values used.
  config.lr ||= String(DEFAULT_LR[optimizer]);
  config['weight-decay'] ||= String(DEFAULT_WEIGHT_DECAY[optimizer]);
  // --lr-step 'plateau' or 'none' without --lr-schedule, as before --lr-schedule existed.
  config['lr-schedule'] ||= ['plateau', 'none'].includes(config['lr-step'])
    ? config['lr-step']
    : 'step';
  const epochs = num('epochs', positiveInt, 'positive integer');
  const warmup = num('warmup-epochs', (n) => n >= 0, 'non-negative number');
  return {
    epochs,
    batchSize: num('batch-size', positiveInt, 'positive integer'),
    optimizer,
    lr: num('lr', (n) => n > 0, 'positive number'),
    momentum: num('momentum', fraction, 'number in [0, 1)'),
    betas: [num('beta1', fraction, 'number in [0, 1)'), num('beta2', fraction, 'number in [0, 1)')],
    eps: num('eps', (n) => n >= 0, 'non-negative number'),
    weightDecay: num('weight-decay', (n) => n >= 0, 'non-negative number'),
    schedule: lrSchedule(config['lr-schedule'], config['lr-step'], epochs, warmup),
    seed: num('seed', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer'),
    preset: oneOf(PRESETS, 'preset', config.preset),
    inputSize: num('input-size', (n) => Number.isInteger(n) && n >= 67, 'integer >= 67'),
    widthScale: num('width-scale', (n) => n > 0 && n <= 4, 'number in (0, 4]'),
    dropout: num('dropout', fraction, 'number in [0, 1)'),
    trainLayers: layers === 'all' ? undefined : checkTrainLayers(layers.split(',')),
    weights: config.weights || undefined,
    limit,
    data: config.data || undefined,
    cacheDir: config['cache-dir'] || undefined,
    resize: oneOf(RESIZE_POLICIES, 'resize', config.resize),
    valFraction: num('val-fraction', (n) => n >= 0 && n <= 0.99, 'number in [0, 0.99]'),
    augment: {
      randomCrop: !flag('no-crop'),
      mirror: !flag('no-mirror'),
      pcaStd: flag('no-pca') ? 0 : num('pca-std', (n) => n >= 0, 'non-negative number'),
    },
    decode: decodeFlags({
      decoder: config.decoder,
      autoOrient: flag('auto-orient'),
      maxPixels: config['max-pixels'],
    }),
    config,
  };
}
