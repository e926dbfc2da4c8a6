/**
 * Classifying image files with a trained AlexNet: the preprocessing of the network's validation
 * pass, then softmax probabilities and the top classes.
 *
 * Each image is decoded (JPEG or PNG) and resized as the data pipeline stores it (`net.resize`:
 * stretched to 256 x 256 for a 227 input by default, Caffe's ImageNet recipe), then cropped to
 * the input size at the centre, or at the ten crops of Krizhevsky et al. 2012 §4.1 (the four
 * corners and the centre, and their mirrors, whose softmax outputs are averaged, as Caffe's
 * `oversample` does), and normalised as the weights expect (`net.normalisation`: BGR minus
 * [104, 117, 123] for the bvlc weights). Crop, mirror and normalisation are the native augment
 * op, as in training. Files are read, decoded and resized in worker threads (DecodePool), the
 * next batch while the network runs the current one; the pools stay between calls, so only the
 * first call pays for starting the threads.
 */

import { BatchBuffers } from './batch-buffers';
import type { RgbImage } from './data/decode-js';
import { DecodePool } from './data/decode-pool';
import { type DecodeOptions, decodeSettings } from './data/decoder';
import { resizeImage } from './data/resize';
import { AlexNetError, ArgumentError } from './errors';
import type { Normalisation, ResizeSetting } from './io/preprocessing';
import { augment } from './ops/augment';
import { type Device, Tensor } from './tensor';
import { boolean, fail, integer } from './validate';

export interface ClassifyOptions extends DecodeOptions {
  /** Classes to report per image, most probable first (at most the number of classes). @default 5 */
  top?: number;
  /** Average the softmax over ten crops (4 corners + centre, and their mirrors). @default false */
  tenCrop?: boolean;
  /** Network inputs per forward pass: images, or crops with tenCrop (10 per image). @default 16 */
  batchSize?: number;
  /** Worker threads decoding files; 0 decodes on the calling thread. @default one per core */
  workers?: number;
  /**
   * Called for a file that cannot be read or decoded (the message names it); that file is then
   * left out of the results. Without it, such a file rejects the whole call.
   */
  onError?: (file: string, error: AlexNetError) => void;
}

export interface ClassScore {
  /** The class name (`net.classNames`). */
  label: string;
  /** The class's output index. */
  index: number;
  probability: number;
}

export interface Classification {
  /** The input file; absent for an image given decoded. */
  file?: string;
  /** The most probable classes, most probable first. */
  top: ClassScore[];
}

/** An input: an image file's path, or an image already decoded to RGB. */
export type ClassifyInput = string | RgbImage;

/** Where one crop of a resized image starts, and whether it is mirrored. */
interface Crop {
  y: number;
  x: number;
  mirror: boolean;
}

/**
 * The crops of one image: the centre, or the ten crops in Caffe's oversample order (corners,
 * centre, then the same mirrored).
 */
function cropPlan(side: number, crop: number, tenCrop: boolean): Crop[] {
  const centre = (side - crop) >> 1;
  if (!tenCrop) return [{ y: centre, x: centre, mirror: false }];
  const far = side - crop;
  const five = [
    [0, 0],
    [0, far],
    [far, 0],
    [far, far],
    [centre, centre],
  ];
  return [false, true].flatMap((mirror) => five.map(([y, x]) => ({ y, x, mirror })));
}

function checkInputs(inputs: unknown): ClassifyInput[] {
  if (!Array.isArray(inputs) || inputs.length === 0) {
    fail('non-empty array of image files or decoded images', 'inputs', inputs);
  }
  inputs.forEach((input, i) => {
    if (typeof input === 'string' ? input === '' : typeof input !== 'object' || input === null) {
      fail('file path or { data, width, height } image', `inputs[${i}]`, input);
    }
  });
  return inputs;
}

/** What classify needs of a model (AlexNet is one). */
export interface Classifier {
  readonly arch: { readonly classes: number; readonly inputSize: number };
  readonly device: Device;
  readonly classNames: readonly string[];
  readonly normalisation: Normalisation;
  readonly resize: ResizeSetting;
  forward(x: Tensor, n: number): Promise<Float32Array>;
}

/**
 * The second half of classification: images already resized to `net.resize.size` square (what
 * the decode pool prepares) are cropped, normalised and run through one forward pass each call.
 * `classify` drives it for files; the server for the batches it gathers from requests. It keeps
 * one input buffer, sized for the largest batch so far, until `dispose()`.
 */
export class ResizedClassifier {
  /** The crops of each image: 1, or 10 with tenCrop. */
  private readonly plan: Crop[];
  private readonly inputs: BatchBuffers<{ x: Tensor }>;

  constructor(
    private readonly net: Classifier,
    private readonly top: number,
    tenCrop: boolean,
  ) {
    const crop = net.arch.inputSize;
    const { size } = net.resize;
    if (size < crop) {
      throw new ArgumentError(
        `Expected net.resize.size of at least the input size ${crop} but received ${size}`,
      );
    }
    this.plan = cropPlan(size, crop, tenCrop);
    this.inputs = new BatchBuffers((n) => ({ x: Tensor.zeros([n, 3, crop, crop], net.device) }));
  }

  /** Images per forward pass when a pass may take `batchSize` network inputs (crops). */
  imagesPerPass(batchSize: number): number {
    return Math.max(1, Math.floor(batchSize / this.plan.length));
  }

  /** The top classes of each image (`size * size * 3` bytes, HWC RGB), in order. */
  async run(images: readonly Uint8Array[]): Promise<ClassScore[][]> {
    const { net, plan } = this;
    const { size } = net.resize;
    const imageBytes = size * size * 3;
    const n = images.length * plan.length;
    const staging = new Uint8Array(n * imageBytes);
    const crops = new Int32Array(2 * n);
    const mirror = new Uint8Array(n);
    images.forEach((pixels, i) => {
      plan.forEach((c, j) => {
        const k = i * plan.length + j;
        staging.set(pixels, k * imageBytes);
        crops[2 * k] = c.y;
        crops[2 * k + 1] = c.x;
        mirror[k] = c.mirror ? 1 : 0;
      });
    });
    const { x } = this.inputs.get(n);
    const { mean, scale, bgr } = net.normalisation;
    augment(staging, { count: n, height: size, width: size }, x, {
      crops,
      mirror,
      mean,
      scale,
      bgr,
    });
    const logits = await net.forward(x, n);
    const classes = net.arch.classes;
    return images.map((_, i) =>
      topClasses(
        averageSoftmax(logits, i * plan.length, plan.length, classes),
        this.top,
        net.classNames,
      ),
    );
  }

  dispose(): void {
    this.inputs.dispose();
  }
}

/**
 * The decode pools of classify, by thread count, shared by every model of the process: started on
 * first use, and idle workers do not keep the process alive (decode-pool.ts), so nothing needs
 * closing. A pool whose worker failed is replaced.
 */
const decodePools = new Map<number, DecodePool>();

function decodePool(workers: number): DecodePool {
  let pool = decodePools.get(workers);
  if (!pool || pool.failed) {
    pool = new DecodePool(workers);
    decodePools.set(workers, pool);
  }
  return pool;
}

/**
 * The most probable classes of image files or decoded images, preprocessed as in validation
 * (see the module comment): resolves to `[{ file, top: [{ label, index, probability }] }]`.
 * Files are read, decoded and resized in worker threads, the next batch while the network runs
 * the current one.
 */
export async function classify(
  net: Classifier,
  inputs: readonly ClassifyInput[],
  options: ClassifyOptions = {},
): Promise<Classification[]> {
  const items = checkInputs(inputs);
  if (typeof options !== 'object' || options === null) fail('object', 'options', options);
  const classes = net.arch.classes;
  const top = integer('top', options.top ?? Math.min(5, classes), 1, classes);
  const tenCrop = boolean('tenCrop', options.tenCrop ?? false);
  const batchSize = integer('batchSize', options.batchSize ?? 16, 1);
  const anyFile = items.some((input) => typeof input === 'string');
  const workers = integer(
    'workers',
    options.workers ?? (anyFile ? DecodePool.defaultWorkers() : 0),
    0,
    256,
  );
  const decode = decodeSettings(options);
  const { onError } = options;
  if (onError !== undefined && typeof onError !== 'function') fail('function', 'onError', onError);

  const classifier = new ResizedClassifier(net, top, tenCrop);
  const perPass = classifier.imagesPerPass(batchSize);
  const { size, policy } = net.resize;
  const pool = decodePool(workers);
  const prepare = async (input: ClassifyInput): Promise<Uint8Array | AlexNetError> => {
    if (typeof input !== 'string') return resizeImage(input, size, policy).data;
    const result = await pool.prepare(input, size, policy, decode);
    return 'error' in result ? new AlexNetError(result.error) : result.pixels;
  };

  const results: Classification[] = [];
  // One pass ahead: the workers decode the next batch while the network runs this one.
  let next = items.slice(0, perPass).map(prepare);
  try {
    for (let start = 0; start < items.length; start += perPass) {
      const current = await Promise.all(next);
      next = items.slice(start + perPass, start + 2 * perPass).map(prepare);
      const ready: { input: ClassifyInput; pixels: Uint8Array }[] = [];
      current.forEach((pixels, i) => {
        const input = items[start + i];
        if (!(pixels instanceof AlexNetError)) ready.push({ input, pixels });
        else if (onError && typeof input === 'string') onError(input, pixels);
        else throw pixels;
      });
      if (ready.length === 0) continue;
      const tops = await classifier.run(ready.map(({ pixels }) => pixels));
      ready.forEach(({ input }, i) => {
        results.push({ ...(typeof input === 'string' ? { file: input } : {}), top: tops[i] });
      });
    }
  } finally {
    // Settle the look-ahead (an error may end the loop early), so no rejection goes unhandled.
    await Promise.allSettled(next);
    classifier.dispose();
  }
  return results;
}

/** The softmax of `count` rows of logits from `row`, averaged, in float64. */
function averageSoftmax(
  logits: Float32Array,
  row: number,
  count: number,
  classes: number,
): Float64Array {
  const out = new Float64Array(classes);
  for (let r = row; r < row + count; ++r) {
    const z = logits.subarray(r * classes, (r + 1) * classes);
    let max = -Infinity;
    for (const v of z) max = Math.max(max, v);
    let sum = 0;
    for (const v of z) sum += Math.exp(v - max);
    for (let c = 0; c < classes; ++c) out[c] += Math.exp(z[c] - max) / sum / count;
  }
  return out;
}

function topClasses(
  probabilities: Float64Array,
  k: number,
  names: readonly string[],
): ClassScore[] {
  const order = Array.from(probabilities.keys()).sort(
    (a, b) => probabilities[b] - probabilities[a] || a - b,
  );
  return order.slice(0, k).map((index) => ({
    label: names[index] ?? String(index),
    index,
    probability: probabilities[index],
  }));
}
