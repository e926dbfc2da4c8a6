/**
 * AlexNet's architecture as data: the presets, the layer widths, and the shape arithmetic that
 * decides which input sizes fit. Sources: Krizhevsky, Sutskever & Hinton 2012 ("paper") and
 * Caffe's models/bvlc_alexnet/deploy.prototxt ("bvlc", the public bvlc_alexnet.npy weights).
 */
import { ArgumentError, ShapeError } from '../errors';
import { fail, finiteNumber, integer } from '../validate';

export type Preset = 'bvlc' | 'paper';
export const PRESETS: readonly Preset[] = ['bvlc', 'paper'];

/** The learnable layers, in order; `trainLayers` names a subset of these. */
export const LAYER_NAMES = [
  'conv1',
  'conv2',
  'conv3',
  'conv4',
  'conv5',
  'fc6',
  'fc7',
  'fc8',
] as const;
export type LayerName = (typeof LAYER_NAMES)[number];

/** Widths at scale 1 (deploy.prototxt): conv1-5 outputs, then fc6 and fc7. */
const BASE_WIDTHS = [96, 256, 384, 384, 256, 4096, 4096];

/**
 * LRN across 5 channels with alpha 1e-4 and beta 0.75 in both; k = 2 in the paper (§3.3), 1 in
 * Caffe's reference model. alpha is divided by the window size (Caffe and cuDNN convention).
 */
export const LRN_OPTIONS: Record<Preset, { size: number; alpha: number; beta: number; k: number }> =
  {
    bvlc: { size: 5, alpha: 1e-4, beta: 0.75, k: 1 },
    paper: { size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
  };

/** Caffe's input convention for the bvlc weights: BGR order, 0-255, this mean (in RGB order). */
export const BVLC_MEAN_RGB: readonly [number, number, number] = [123, 117, 104];

export interface Architecture {
  preset: Preset;
  classes: number;
  inputSize: number;
  widthScale: number;
  /** Output channels of conv1-conv5 and features of fc6, fc7. */
  widths: readonly number[];
  dropout: number;
}

/**
 * A width scaled by `scale`, rounded to an even number so that the two groups of conv2, conv4
 * and conv5 divide it, and at least 2.
 */
function scaleWidth(width: number, scale: number): number {
  return Math.max(2, 2 * Math.round((width * scale) / 2));
}

export function architecture(options: {
  preset: unknown;
  classes: unknown;
  inputSize: unknown;
  widthScale: unknown;
  dropout: unknown;
}): Architecture {
  const preset = options.preset as Preset;
  if (!PRESETS.includes(preset)) fail(`one of ${PRESETS.join(', ')}`, 'preset', options.preset);
  const classes = integer('classes', options.classes, 2);
  const inputSize = integer('inputSize', options.inputSize, 1);
  const widthScale = finiteNumber('widthScale', options.widthScale, 1e-3, 16);
  const dropout = finiteNumber('dropout', options.dropout, 0, 0.99);
  const arch = {
    preset,
    classes,
    inputSize,
    widthScale,
    widths: BASE_WIDTHS.map((w) => scaleWidth(w, widthScale)),
    dropout,
  };
  layerShapes(arch);
  return arch;
}

export interface LayerShape {
  name: string;
  /** Output shape for one image: [channels, height, width] or [features]. */
  shape: number[];
}

/** Output side of a convolution or pooling window sweep (floor, as PyTorch; see lib/ops/pool.ts). */
export const outputSize = (size: number, kernel: number, stride: number, pad: number) =>
  Math.floor((size + 2 * pad - kernel) / stride) + 1;

/**
 * Every layer's output shape for one image, checking that each spatial size stays positive.
 * With 11x11/4 conv1 and three 3x3/2 poolings, 67 is the smallest input that fits.
 */
export function layerShapes(arch: Omit<Architecture, 'dropout' | 'preset'>): LayerShape[] {
  const [c1, c2, c3, c4, c5, f6, f7] = arch.widths;
  const out: LayerShape[] = [];
  let size = arch.inputSize;
  const spatial = (name: string, channels: number, next: number) => {
    if (next < 1) {
      throw new ShapeError(
        `Expected inputSize >= 67 but received ${arch.inputSize}: ${name} would get a ` +
          `${size}x${size} input and produce nothing`,
      );
    }
    size = next;
    out.push({ name, shape: [channels, size, size] });
  };
  spatial('conv1', c1, outputSize(size, 11, 4, 0));
  spatial('pool1', c1, outputSize(size, 3, 2, 0));
  spatial('conv2', c2, outputSize(size, 5, 1, 2));
  spatial('pool2', c2, outputSize(size, 3, 2, 0));
  spatial('conv3', c3, outputSize(size, 3, 1, 1));
  spatial('conv4', c4, outputSize(size, 3, 1, 1));
  spatial('conv5', c5, outputSize(size, 3, 1, 1));
  spatial('pool5', c5, outputSize(size, 3, 2, 0));
  out.push({ name: 'fc6', shape: [f6] }, { name: 'fc7', shape: [f7] });
  out.push({ name: 'fc8', shape: [arch.classes] });
  return out;
}

export function checkTrainLayers(value: unknown): LayerName[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail(`non-empty array of layer names (${LAYER_NAMES.join(', ')})`, 'trainLayers', value);
  }
  for (const name of value) {
    if (!LAYER_NAMES.includes(name)) {
      throw new ArgumentError(
        `Expected one of ${LAYER_NAMES.join(', ')} in trainLayers but received ${JSON.stringify(name)}`,
      );
    }
  }
  return value as LayerName[];
}
