/**
 * AlexNet's architecture as data: the presets, the layer widths, and the shape arithmetic that
 * decides which input sizes fit. Sources: Krizhevsky, Sutskever & Hinton 2012 ("paper"),
 * Caffe's models/bvlc_alexnet/deploy.prototxt ("bvlc", the public bvlc_alexnet.npy weights),
 * and torchvision's models/alexnet.py ("torchvision", alexnet-owt-7be5be79.pth: the
 * single-tower network of Krizhevsky 2014, "One weird trick for parallelizing convolutional
 * neural networks").
 */

import { ArgumentError, ShapeError } from '../errors';
import type { Normalisation } from '../io/preprocessing';
import { fail, finiteNumber, integer } from '../validate';

export type Preset = 'bvlc' | 'paper' | 'torchvision';
export const PRESETS: readonly Preset[] = ['bvlc', 'paper', 'torchvision'];

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

/** Widths at scale 1: conv1-5 outputs, then fc6 and fc7 (deploy.prototxt; alexnet.py). */
const BASE_WIDTHS: Record<Preset, readonly number[]> = {
  bvlc: [96, 256, 384, 384, 256, 4096, 4096],
  paper: [96, 256, 384, 384, 256, 4096, 4096],
  torchvision: [64, 192, 384, 256, 256, 4096, 4096],
};

/** The input side each preset's weights were trained at (the default inputSize). */
export const DEFAULT_INPUT_SIZE: Record<Preset, number> = {
  bvlc: 227,
  paper: 227,
  torchvision: 224,
};

export interface LrnOptions {
  size: number;
  alpha: number;
  beta: number;
  k: number;
}

/**
 * LRN across 5 channels with alpha 1e-4 and beta 0.75 in both; k = 2 in the paper (§3.3), 1 in
 * Caffe's reference model. alpha is divided by the window size (Caffe and cuDNN convention).
 * torchvision's AlexNet has no LRN.
 */
export const LRN_OPTIONS: Record<'bvlc' | 'paper', LrnOptions> = {
  bvlc: { size: 5, alpha: 1e-4, beta: 0.75, k: 1 },
  paper: { size: 5, alpha: 1e-4, beta: 0.75, k: 2 },
};

/** Caffe's input convention for the bvlc weights: BGR order, 0-255, this mean (in RGB order). */
export const BVLC_MEAN_RGB: readonly [number, number, number] = [123, 117, 104];

/** The bvlc weights' input convention as a normalisation (BGR, 0-255, mean subtracted). */
export const BVLC_INPUT: Normalisation = { mean: BVLC_MEAN_RGB, scale: [1, 1, 1], bgr: true };

/**
 * torchvision's input convention (transforms.Normalize in its ImageNet recipe): RGB scaled to
 * 0-1, then this mean subtracted and divided by this standard deviation, per channel.
 */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * torchvision's AlexNet ends its features with AdaptiveAvgPool2d((6, 6)). This package has no
 * average pooling op, so the preset takes only the inputs where that pool is the identity:
 * those whose pool5 output is already 6x6 (224, torchvision's size, among them).
 */
export const TORCHVISION_POOL5 = 6;

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
    widths: BASE_WIDTHS[preset].map((w) => scaleWidth(w, widthScale)),
    dropout,
  };
  const pool5 = layerShapes(arch).find((l) => l.name === 'pool5')!.shape[1];
  if (preset === 'torchvision' && pool5 !== TORCHVISION_POOL5) {
    const [low, high] = torchvisionInputSizes();
    throw new ShapeError(
      `Expected inputSize from ${low} to ${high} for the torchvision preset but received ` +
        `${inputSize}: pool5 would be ${pool5}x${pool5}, and torchvision's adaptive average pool ` +
        `to ${TORCHVISION_POOL5}x${TORCHVISION_POOL5} is implemented only where it is the identity`,
    );
  }
  return arch;
}

/** The smallest and largest inputs whose pool5 is 6x6 in the torchvision preset. */
function torchvisionInputSizes(): [number, number] {
  const fits = (inputSize: number) =>
    layerShapes({
      preset: 'torchvision',
      classes: 2,
      inputSize,
      widthScale: 1,
      widths: BASE_WIDTHS.torchvision,
    }).find((l) => l.name === 'pool5')!.shape[1] === TORCHVISION_POOL5;
  let low = 67;
  while (!fits(low)) low += 1;
  let high = low;
  while (fits(high + 1)) high += 1;
  return [low, high];
}

/**
 * The width scale at which `preset` has these widths (conv1-conv5, fc6, fc7), as a file's
 * weights reveal them, or null when it has them at no scale.
 */
export function widthScaleOf(preset: Preset, widths: readonly number[]): number | null {
  const scale = widths[0] / BASE_WIDTHS[preset][0];
  const scaled = BASE_WIDTHS[preset].map((w) => scaleWidth(w, scale));
  return scaled.join() === widths.join() ? scale : null;
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
 * bvlc_alexnet deploy.prototxt writes them, or torchvision's; a dropout layer's `key` keys its
 * masks (lib/random). `stateName` prefixes the layer's parameters in a state_dict:
 * `conv1.weight`, or torchvision's `features.0.weight`, so that load_state_dict takes ours.
 */
export type LayerSpec =
  | {
      kind: 'conv';
      name: LayerName;
      stateName: string;
      width: number;
      kernel: number;
      stride: number;
      pad: number;
      groups: number;
    }
  | { kind: 'relu'; name: string }
  | { kind: 'pool'; name: string; kernel: number; stride: number; pad: number }
  | { kind: 'lrn'; name: string; options: LrnOptions }
  | { kind: 'fc'; name: LayerName; stateName: string; width: number | 'classes' }
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
  stateName: string = name,
) => ({ kind: 'conv', name, stateName, width, kernel, stride, pad, groups }) as const;

const pool = (name: string) => ({ kind: 'pool', name, ...POOL }) as const;

const fc = (name: LayerName, width: number | 'classes', stateName: string = name) =>
  ({ kind: 'fc', name, stateName, width }) as const;

/** Caffe's network (the paper's, with its k): LRN after conv1 and conv2, dropout after fc6, fc7. */
function caffeLayers(lrn: LrnOptions): readonly LayerSpec[] {
  return [
    conv('conv1', 0, 11, 4, 0, 1),
    { kind: 'relu', name: 'relu1' },
    { kind: 'lrn', name: 'norm1', options: lrn },
    pool('pool1'),
    conv('conv2', 1, 5, 1, 2, 2),
    { kind: 'relu', name: 'relu2' },
    { kind: 'lrn', name: 'norm2', options: lrn },
    pool('pool2'),
    conv('conv3', 2, 3, 1, 1, 1),
    { kind: 'relu', name: 'relu3' },
    conv('conv4', 3, 3, 1, 1, 2),
    { kind: 'relu', name: 'relu4' },
    conv('conv5', 4, 3, 1, 1, 2),
    { kind: 'relu', name: 'relu5' },
    pool('pool5'),
    fc('fc6', 5),
    { kind: 'relu', name: 'relu6' },
    { kind: 'dropout', name: 'drop6', key: 6 },
    fc('fc7', 6),
    { kind: 'relu', name: 'relu7' },
    { kind: 'dropout', name: 'drop7', key: 7 },
    fc('fc8', 'classes'),
  ];
}

/**
 * torchvision's AlexNet (models/alexnet.py): conv1 padded by 2, no LRN, no groups, dropout
 * before fc6 and fc7 (classifier.0 and .3), parameters under nn.Sequential's indices. Its
 * avgpool (adaptive, to 6x6) is the identity at the input sizes this preset accepts.
 */
const TORCHVISION_LAYERS: readonly LayerSpec[] = [
  conv('conv1', 0, 11, 4, 2, 1, 'features.0'),
  { kind: 'relu', name: 'relu1' },
  pool('pool1'),
  conv('conv2', 1, 5, 1, 2, 1, 'features.3'),
  { kind: 'relu', name: 'relu2' },
  pool('pool2'),
  conv('conv3', 2, 3, 1, 1, 1, 'features.6'),
  { kind: 'relu', name: 'relu3' },
  conv('conv4', 3, 3, 1, 1, 1, 'features.8'),
  { kind: 'relu', name: 'relu4' },
  conv('conv5', 4, 3, 1, 1, 1, 'features.10'),
  { kind: 'relu', name: 'relu5' },
  pool('pool5'),
  { kind: 'dropout', name: 'drop6', key: 6 },
  fc('fc6', 5, 'classifier.1'),
  { kind: 'relu', name: 'relu6' },
  { kind: 'dropout', name: 'drop7', key: 7 },
  fc('fc7', 6, 'classifier.4'),
  { kind: 'relu', name: 'relu7' },
  fc('fc8', 'classes', 'classifier.6'),
];

/** The one table of the presets' networks. */
export const LAYERS: Record<Preset, readonly LayerSpec[]> = {
  bvlc: caffeLayers(LRN_OPTIONS.bvlc),
  paper: caffeLayers(LRN_OPTIONS.paper),
  torchvision: TORCHVISION_LAYERS,
};

/** Output shape for one image of every conv, pool and fc layer, in order. */
export function layerShapes(arch: Omit<Architecture, 'dropout'>): LayerShape[] {
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
  for (const layer of LAYERS[arch.preset]) {
    if (layer.kind === 'conv') {
      channels = arch.widths[layer.width];
      spatial(layer.name, outputSize(size, layer.kernel, layer.stride, layer.pad));
    } else if (layer.kind === 'pool') {
      spatial(layer.name, outputSize(size, layer.kernel, layer.stride, layer.pad));
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
