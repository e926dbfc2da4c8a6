/**
 * AlexNet's architecture as data: the presets, the layer widths, and the shape arithmetic that
 * decides which input sizes fit. Sources: Krizhevsky, Sutskever & Hinton 2012 ("paper") and
 * Caffe's models/bvlc_alexnet/deploy.prototxt ("bvlc", the public bvlc_alexnet.npy weights).
 */

import { ArgumentError, ShapeError } from '../errors';
import type { Normalisation } from '../io/preprocessing';
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

/** The bvlc weights' input convention as a normalisation (BGR, 0-255, mean subtracted). */
export const BVLC_INPUT: Normalisation = { mean: BVLC_MEAN_RGB, scale: [1, 1, 1], bgr: true };

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
/**
 * The network, layer by layer: the one definition that AlexNet builds its layers from and
 * layerShapes computes shapes from. `width` indexes Architecture.widths ('classes' for fc8);
 * kernel sizes, strides, padding and groups are the paper's (§3.5, Figure 2) as Caffe's
 * bvlc_alexnet deploy.prototxt writes them; a dropout layer's `key` keys its masks (lib/random).
 */
export type LayerSpec =
  | {
      kind: 'conv';
      name: LayerName;
      width: number;
      kernel: number;
      stride: number;
      pad: number;
      groups: number;
    }
  | { kind: 'relu' | 'lrn' | 'pool'; name: string }
  | { kind: 'fc'; name: LayerName; width: number | 'classes' }
  | { kind: 'dropout'; name: string; key: number };

/** Overlapping max pooling (§3.4): 3x3 windows, stride 2. */
export const POOL = { kernel: 3, stride: 2, pad: 0 } as const;

const conv = (
  name: LayerName,
  width: number,
  kernel: number,
  stride: number,
  pad: number,
  groups: number,
) => ({ kind: 'conv', name, width, kernel, stride, pad, groups }) as const;

export const LAYERS: readonly LayerSpec[] = [
  conv('conv1', 0, 11, 4, 0, 1),
  { kind: 'relu', name: 'relu1' },
  { kind: 'lrn', name: 'norm1' },
  { kind: 'pool', name: 'pool1' },
  conv('conv2', 1, 5, 1, 2, 2),
  { kind: 'relu', name: 'relu2' },
  { kind: 'lrn', name: 'norm2' },
  { kind: 'pool', name: 'pool2' },
  conv('conv3', 2, 3, 1, 1, 1),
  { kind: 'relu', name: 'relu3' },
  conv('conv4', 3, 3, 1, 1, 2),
  { kind: 'relu', name: 'relu4' },
  conv('conv5', 4, 3, 1, 1, 2),
  { kind: 'relu', name: 'relu5' },
  { kind: 'pool', name: 'pool5' },
  { kind: 'fc', name: 'fc6', width: 5 },
  { kind: 'relu', name: 'relu6' },
  { kind: 'dropout', name: 'drop6', key: 6 },
  { kind: 'fc', name: 'fc7', width: 6 },
  { kind: 'relu', name: 'relu7' },
  { kind: 'dropout', name: 'drop7', key: 7 },
  { kind: 'fc', name: 'fc8', width: 'classes' },
];

/** Output shape for one image of every conv, pool and fc layer, in order. */
export function layerShapes(arch: Omit<Architecture, 'dropout' | 'preset'>): LayerShape[] {
  const out: LayerShape[] = [];
  let channels = 3;
  let size = arch.inputSize;
  const spatial = (name: string, next: number) => {
    if (next < 1) {
      throw new ShapeError(
        `Expected inputSize >= 67 but received ${arch.inputSize}: ${name} would get a ` +
          `${size}x${size} input and produce nothing`,
      );
    }
    size = next;
    out.push({ name, shape: [channels, size, size] });
  };
  for (const layer of LAYERS) {
    if (layer.kind === 'conv') {
      channels = arch.widths[layer.width];
      spatial(layer.name, outputSize(size, layer.kernel, layer.stride, layer.pad));
    } else if (layer.kind === 'pool') {
      spatial(layer.name, outputSize(size, POOL.kernel, POOL.stride, POOL.pad));
    } else if (layer.kind === 'fc') {
      const width = layer.width === 'classes' ? arch.classes : arch.widths[layer.width];
      out.push({ name: layer.name, shape: [width] });
    }
  }
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
