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
import type { LrSchedule } from '../lib/train/schedule';
import type { Flags, ParsedFlags } from './cli';
import { decodeFlags } from './decode-flags';

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: LrSchedule;
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

/** The flags' values, or with a resumed run's saved config, its values (but a given --epochs). */
function settingSource(args: ParsedFlags, flags: Flags, saved?: Record<string, unknown>) {
  const fromRun = (name: string) => saved && !(name === 'epochs' && args.given(name));
  const raw = (name: string): string => {
    if (fromRun(name)) return saved![name] === undefined ? '' : String(saved![name]);
    if (flags[name].type === 'boolean') return String(args.flag(name));
    return args.string(name) ?? '';
  };
  return {
    raw,
    number(name: string, check: (n: number) => boolean, expected: string): number {
      const text = raw(name);
      const n = Number(text);
      if (text === '' || !Number.isFinite(n) || !check(n)) {
        throw new AlexNetError(`Expected ${expected} for --${name} but received '${text}'`);
      }
      return n;
    },
    flag: (name: string) => raw(name) === 'true',
  };
}

/** --lr-step: every k epochs, 'plateau' or 'none'. */
function lrSchedule(text: string): LrSchedule {
  if (text === 'none' || text === '') return { kind: 'constant' };
  if (text === 'plateau') return { kind: 'plateau', patience: 2, factor: 0.1 };
  const every = Number(text);
  if (!positiveInt(every)) {
    throw new AlexNetError(
      `Expected a positive integer, 'plateau' or 'none' for --lr-step but received '${text}'`,
    );
  }
  return { kind: 'step', every, gamma: 0.1 };
}

function oneOf<T extends string>(allowed: readonly T[], name: string, text: string): T {
  if (!allowed.includes(text as T)) {
    const list = allowed.map((a) => `'${a}'`).join(' or ');
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
  const s = settingSource(args, flags, saved);
  const config = Object.fromEntries(
    Object.keys(flags)
      .filter(
        (name) => !['help', 'out', 'resume', 'distributed', 'device', 'workers'].includes(name),
      )
      .map((name) => [name, s.raw(name)]),
  );
  const limit = config.limit ? s.number('limit', positiveInt, 'positive integer') : undefined;
  if (limit !== undefined && config.data) {
    throw new AlexNetError('--limit applies to the MNIST default; it cannot be used with --data');
  }
  const layers = config['train-layers'];
  return {
    epochs: s.number('epochs', positiveInt, 'positive integer'),
    batchSize: s.number('batch-size', positiveInt, 'positive integer'),
    lr: s.number('lr', (n) => n > 0, 'positive number'),
    momentum: s.number('momentum', (n) => n >= 0 && n < 1, 'number in [0, 1)'),
    weightDecay: s.number('weight-decay', (n) => n >= 0, 'non-negative number'),
    schedule: lrSchedule(config['lr-step']),
    seed: s.number('seed', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer'),
    preset: oneOf(PRESETS, 'preset', config.preset),
    inputSize: s.number('input-size', (n) => Number.isInteger(n) && n >= 67, 'integer >= 67'),
    widthScale: s.number('width-scale', (n) => n > 0 && n <= 4, 'number in (0, 4]'),
    dropout: s.number('dropout', (n) => n >= 0 && n < 1, 'number in [0, 1)'),
    trainLayers: layers === 'all' ? undefined : checkTrainLayers(layers.split(',')),
    weights: config.weights || undefined,
    limit,
    data: config.data || undefined,
    cacheDir: config['cache-dir'] || undefined,
    resize: oneOf(RESIZE_POLICIES, 'resize', config.resize),
    valFraction: s.number('val-fraction', (n) => n >= 0 && n <= 0.99, 'number in [0, 0.99]'),
    augment: {
      randomCrop: !s.flag('no-crop'),
      mirror: !s.flag('no-mirror'),
      pcaStd: s.flag('no-pca') ? 0 : s.number('pca-std', (n) => n >= 0, 'non-negative number'),
    },
    decode: decodeFlags({
      decoder: config.decoder,
      autoOrient: s.flag('auto-orient'),
      maxPixels: config['max-pixels'],
    }),
    config,
  };
}
