/**
 * AlexNet: five convolutions and three fully connected layers, with the LRN, overlapping
 * pooling and dropout of Krizhevsky et al. 2012, in the `bvlc` (Caffe reference) or `paper`
 * preset, at any input size from 67 and any width scale. The model owns its parameters and its
 * per-batch buffers; `dispose()` frees them.
 */

import * as path from 'node:path';
import type { Normalisation } from '../data/dataset';
import type { DecodePool } from '../data/decode-pool';
import { imagenetClasses } from '../data/imagenet';
import { type ResizeSetting, storedSize } from '../data/resize';
import { type DeviceRequest, resolveDevice } from '../device';
import {
  AlexNetError,
  ArgumentError,
  DisposedError,
  fileReadError,
  NonFiniteLossError,
  ShapeError,
} from '../errors';
import { readBvlcWeights } from '../io/bvlc';
import {
  type Checkpoint,
  loadWeights,
  modelConfig,
  readCheckpoint,
  saveCheckpoint,
} from '../io/checkpoint';
import { exportOnnx, type OnnxOptions } from '../io/onnx';
import { readPth } from '../io/pth';
import type { NamedArray } from '../io/safetensors';
import { matchStateDict, outputWidths } from '../io/state-dict';
import { queueSoftmaxCrossEntropy, queueTopKCorrect } from '../ops/loss';
import {
  type Classification,
  type ClassifyInput,
  type ClassifyOptions,
  classify,
} from '../predict';
import { flush, SerialQueue } from '../queue';
import { Rng } from '../random';
import { type Device, sizeOf, Tensor } from '../tensor';
import type { SGD } from '../train/sgd';
import { fail, integer, typedArray } from '../validate';
import {
  type Architecture,
  architecture,
  BVLC_MEAN_RGB,
  checkTrainLayers,
  DEFAULT_INPUT_SIZE,
  IMAGENET_MEAN,
  IMAGENET_STD,
  LAYER_NAMES,
  LAYERS,
  type LayerName,
  type LayerShape,
  type LayerSpec,
  layerShapes,
  type Preset,
  widthScaleOf,
} from './architecture';
import { Conv2d } from './conv2d';
import { Dropout } from './dropout';
import { BatchBuffers, type Layer, type Param, type StepContext } from './layer';
import { Linear } from './linear';
import { Lrn } from './lrn';
import { MaxPool } from './max-pool';
import { Relu } from './relu';

export type Init = 'he' | 'paper' | 'none';

export interface AlexNetOptions {
  /** Architecture preset. @default 'bvlc' */
  preset?: Preset;
  /** Number of output classes. @default 1000 */
  classes?: number;
  /** 'auto' picks CUDA when this build and machine have it, else the CPU. @default 'auto' */
  device?: DeviceRequest;
  /** Seed of the weight initialisation and of the dropout masks. @default 0 */
  seed?: number;
  /** Side of the square input image; 67 and up (223 to 254 for torchvision). @default 227 (224 for torchvision) */
  inputSize?: number;
  /** Multiplies every conv and fc width (rounded to even). @default 1 */
  widthScale?: number;
  /** Dropout probability before fc7 and fc8 (fc6 and fc7 for torchvision); 0 disables it. @default 0.5 */
  dropout?: number;
  /** The layers that learn; layers below the lowest compute no gradients. @default all */
  trainLayers?: LayerName[];
  /**
   * 'he': N(0, sqrt(2 / fan_in)) weights, zero biases. 'paper': N(0, 0.01) weights, biases 1 in
   * conv2, conv4, conv5, fc6, fc7 and 0 elsewhere (§5 of the paper). 'none': all zero, for a
   * model whose weights are loaded next (drawing 61M normals costs seconds). @default 'he'
   */
  init?: Init;
}

/** Which reader a weights file needs, by its extension. */
function weightsFormat(file: string): 'bvlc' | 'checkpoint' | 'pth' {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.npy') return 'bvlc';
  if (extension === '.safetensors') return 'checkpoint';
  if (extension === '.pth' || extension === '.pt') return 'pth';
  return fail(
    'a .safetensors checkpoint, a .npy file like bvlc_alexnet.npy or a .pth file like alexnet-owt-7be5be79.pth',
    'file',
    file,
  );
}

/**
 * How images become inputs for a preset's weights, and how they are resized first: Caffe's
 * (bvlc: BGR, 0-255, mean subtracted; stretched to 256), torchvision's (RGB scaled to 0-1,
 * normalised by ImageNet's mean and std; shorter side to 256 then the centre, as its
 * transforms.Resize(256) and CenterCrop(224)), or none (raw RGB 0-255).
 */
function presetInput(
  preset: Preset,
  inputSize: number,
): { normalisation: Normalisation; resize: ResizeSetting } {
  if (preset === 'torchvision') {
    const channel = (c: number) => [255 * IMAGENET_MEAN[c], 1 / (255 * IMAGENET_STD[c])];
    const [[r, rs], [g, gs], [b, bs]] = [0, 1, 2].map(channel);
    return {
      normalisation: { mean: [r, g, b], scale: [rs, gs, bs], bgr: false },
      resize: { policy: 'shorter', size: Math.round((inputSize * 256) / 224) },
    };
  }
  const resize: ResizeSetting = { policy: 'stretch', size: storedSize(inputSize) };
  return preset === 'bvlc'
    ? { normalisation: { mean: BVLC_MEAN_RGB, scale: [1, 1, 1], bgr: true }, resize }
    : { normalisation: { mean: [0, 0, 0], scale: [1, 1, 1], bgr: false }, resize };
}

/** Layers whose biases the paper initialises to 1 (§5: "to accelerate the early stages"). */
const PAPER_BIAS_ONE: readonly string[] = ['conv2', 'conv4', 'conv5', 'fc6', 'fc7'];

export interface BatchResult {
  loss: number;
  /** Rows whose label has the largest logit. */
  correct: number;
}

export interface Evaluation extends BatchResult {
  /** Rows whose label is among the k largest logits. */
  correctTopK: number;
}

/**
 * How one rank's share of a data-parallel step differs from a whole step
 * (lib/distributed/data-parallel.ts): where its rows sit in the global batch, the global size the
 * loss and gradients are divided by (so the ranks' sums are the global mean), and what to queue
 * as each layer's gradients are queued and before the update (the allreduces and their wait).
 */
export interface ShardStep {
  offset: number;
  total: number;
  /** Called top-down, after each trained layer's backward is queued, with its parameters. */
  afterBackward(params: readonly Param[]): void;
  /** Called once every gradient is queued, with the step's results tensor [loss, correct]. */
  beforeUpdate(results: Tensor): void;
}

/** The logits as read back. */
const logitsOf = (logits: Float32Array) => logits;

/** An evaluation's results as read back: [loss, correct, correctTopK]. */
function evaluation([loss, correct, correctTopK]: Float32Array): Evaluation {
  return { loss, correct, correctTopK };
}

export class AlexNet {
  readonly arch: Architecture;
  readonly device: Device;
  /** Why `device: 'auto'` chose this device ('' when it was asked for explicitly). */
  readonly deviceReason: string;
  readonly seed: number;
  readonly trainLayers: readonly LayerName[];
  /** Training steps taken: the dropout masks' counter. Saved in checkpoints. */
  step = 0;
  /** Names of the classes, saved with the weights; '0', '1', ... until set. */
  classNames: readonly string[];
  /**
   * How images become inputs, saved with the weights so prediction preprocesses as training
   * did. Defaults to Caffe's convention for the bvlc preset (BGR, mean subtracted, 0-255).
   */
  normalisation: Normalisation;
  /**
   * How images are resized before the centre crop, saved with the weights. Defaults to the
   * data pipeline's: stretched to round(256 * inputSize / 227), so 256 for 227 (Caffe's ImageNet
   * recipe, which the bvlc weights were trained with).
   */
  resize: ResizeSetting;

  private readonly layers: Layer[];
  private readonly learnable: Map<LayerName, Conv2d | Linear>;
  /** Index in `layers` of the lowest trained layer: backward stops there. */
  private readonly lowestTrained: number;
  private readonly inputs: BatchBuffers<{ input: Tensor }>;
  private readonly logitGrads: BatchBuffers<{ dlogits: Tensor }>;
  private stepResults: Tensor | null = null;
  /** Runs the asynchronous calls one after another. */
  private readonly serial = new SerialQueue();
  /** classify's decoding threads, by count: started on first use, stopped by dispose(). */
  private readonly decodePools = new Map<number, DecodePool>();
  /** Set by dispose(): settles once the memory is released. */
  private disposal: Promise<void> | null = null;

  constructor(options: AlexNetOptions = {}) {
    const preset = options.preset ?? 'bvlc';
    this.arch = architecture({
      preset,
      classes: options.classes ?? 1000,
      inputSize: options.inputSize ?? DEFAULT_INPUT_SIZE[preset as Preset] ?? 227,
      widthScale: options.widthScale ?? 1,
      dropout: options.dropout ?? 0.5,
    });
    this.seed = integer('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
    const init = options.init ?? 'he';
    if (init !== 'he' && init !== 'paper' && init !== 'none') {
      fail("'he', 'paper' or 'none'", 'init', init);
    }
    this.trainLayers = checkTrainLayers(options.trainLayers ?? [...LAYER_NAMES]);
    const resolved = resolveDevice(options.device ?? 'auto');
    this.device = resolved.device;
    this.deviceReason = resolved.reason;

    this.layers = this.build();
    const { inputSize, classes } = this.arch;
    this.inputs = new BatchBuffers((n) => ({
      input: Tensor.zeros([n, 3, inputSize, inputSize], this.device),
    }));
    this.logitGrads = new BatchBuffers((n) => ({
      dlogits: Tensor.zeros([n, classes], this.device),
    }));
    this.learnable = new Map();
    for (const layer of this.layers) {
      if (layer instanceof Conv2d || layer instanceof Linear) {
        this.learnable.set(layer.name as LayerName, layer);
        layer.trainable = this.trainLayers.includes(layer.name as LayerName);
      }
    }
    this.lowestTrained = this.layers.findIndex((l) => l.trainable);
    if (init !== 'none') this.initialise(init);
    this.classNames = Array.from({ length: this.arch.classes }, (_, i) => String(i));
    ({ normalisation: this.normalisation, resize: this.resize } = presetInput(
      this.arch.preset,
      this.arch.inputSize,
    ));
  }

  /**
   * A model ready to predict, from a checkpoint written by `save` or the trainer (its
   * architecture, classes and preprocessing), from bvlc_alexnet.npy (the bvlc preset with the
   * 1000 ImageNet classes) or from a torchvision AlexNet's .pth (the torchvision preset at the
   * widths and classes its shapes show). Errors name the file.
   */
  static async fromFile(file: string, options: { device?: DeviceRequest } = {}): Promise<AlexNet> {
    if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
    if (weightsFormat(file) === 'pth') return AlexNet.fromPth(file, await readPth(file), options);
    if (weightsFormat(file) === 'bvlc') {
      const net = new AlexNet({
        preset: 'bvlc',
        classes: 1000,
        device: options.device,
        init: 'none',
      });
      return net.loadDisposingOnError(file);
    }
    let checkpoint: Checkpoint;
    try {
      checkpoint = await readCheckpoint(file);
    } catch (error) {
      throw fileReadError(file, error);
    }
    const { model } = checkpoint;
    let net: AlexNet;
    try {
      net = new AlexNet({
        preset: model.preset,
        classes: model.classes,
        inputSize: model.inputSize,
        widthScale: model.widthScale,
        dropout: model.dropout,
        seed: model.seed,
        device: options.device,
        init: 'none',
      });
    } catch (error) {
      if (!(error instanceof AlexNetError)) throw error;
      throw new AlexNetError(`${file} holds a model this version cannot build: ${error.message}`);
    }
    try {
      net.applyCheckpoint(checkpoint, []);
      return net;
    } catch (error) {
      net.dispose();
      throw error;
    }
  }

  /** The torchvision preset at the widths and classes of a .pth file's state_dict. */
  private static fromPth(
    file: string,
    tensors: Record<string, NamedArray>,
    options: { device?: DeviceRequest },
  ): AlexNet {
    const names = LAYERS.torchvision.flatMap((l) =>
      l.kind === 'conv' || l.kind === 'fc' ? [`${l.stateName}.weight`] : [],
    );
    const widths = outputWidths(tensors, file, names);
    const widthScale = widthScaleOf('torchvision', widths.slice(0, -1));
    if (widthScale === null) {
      throw new AlexNetError(
        `${file}: widths ${widths.slice(0, -1).join('/')} are not torchvision's AlexNet's ` +
          '(64/192/384/256/256/4096/4096) at any scale',
      );
    }
    const net = new AlexNet({
      preset: 'torchvision',
      classes: widths[widths.length - 1],
      widthScale,
      device: options.device,
      init: 'none',
    });
    try {
      net.applyPth(tensors, file, []);
      return net;
    } catch (error) {
      net.dispose();
      throw error;
    }
  }

  /** A .pth state_dict's weights, with torchvision's input convention and ImageNet's classes. */
  private applyPth(tensors: Record<string, NamedArray>, file: string, skip: readonly LayerName[]) {
    const params = this.parameters().map(({ name, layer, value }) => ({
      name,
      layer,
      shape: value.shape,
    }));
    loadWeights(this, matchStateDict(tensors, file, params, skip), file, skip);
    ({ normalisation: this.normalisation, resize: this.resize } = presetInput(
      'torchvision',
      this.arch.inputSize,
    ));
    if (!skip.includes('fc8') && this.arch.classes === 1000) this.classNames = imagenetClasses();
  }

  private async loadDisposingOnError(file: string): Promise<AlexNet> {
    try {
      await this.load(file);
      return this;
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Writes the weights, class names and preprocessing to a safetensors file (atomically). */
  async save(file: string): Promise<void> {
    this.assertLive();
    await saveCheckpoint(file, this, modelConfig(this));
  }

  /**
   * Loads weights from a checkpoint written by `save` or the trainer (`.safetensors`: weights,
   * class names and preprocessing), or from the public bvlc_alexnet.npy (`.npy`: the weights,
   * Caffe's BGR mean-subtracted input convention, and the ImageNet class names with fc8), or
   * from torchvision's `.pth` into the torchvision preset (the weights, torchvision's input
   * convention, and the ImageNet class names with a 1000-class fc8). Layers named in `skip` (e.g. ['fc8'] to fine-tune on other classes) keep their current
   * weights; a file whose fc8 does not match `classes` needs it. Errors name the file.
   */
  async load(file: string, options: { skip?: LayerName[] } = {}): Promise<void> {
    this.assertLive();
    if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
    const skip = options.skip ? checkTrainLayers(options.skip) : [];
    const format = weightsFormat(file);
    try {
      if (format === 'pth') {
        this.applyPth(await readPth(file), file, skip);
        return;
      }
      if (format === 'bvlc') {
        const [channels, height, width] = this.shapes().find((s) => s.name === 'pool5')!.shape;
        const shapes = Object.fromEntries(this.parameters().map((p) => [p.name, p.value.shape]));
        const weights = await readBvlcWeights(
          file,
          { shapes, pool5: [channels, height, width] },
          skip,
        );
        loadWeights(this, weights, file, skip);
        // The weights expect Caffe's input; a loaded fc8 of 1000 outputs is ImageNet's classes.
        this.normalisation = { mean: BVLC_MEAN_RGB, scale: [1, 1, 1], bgr: true };
        this.resize = { policy: 'stretch', size: storedSize(this.arch.inputSize) };
        if (!skip.includes('fc8') && this.arch.classes === 1000) {
          this.classNames = imagenetClasses();
        }
        return;
      }
      this.applyCheckpoint(await readCheckpoint(file), skip);
    } catch (error) {
      throw fileReadError(file, error);
    }
  }

  private applyCheckpoint(checkpoint: Checkpoint, skip: readonly LayerName[]): void {
    loadWeights(this, checkpoint.weights, checkpoint.file, skip);
    if (!skip.includes('fc8')) this.classNames = checkpoint.model.classNames;
    this.normalisation = checkpoint.model.normalisation;
    if (checkpoint.model.resize) this.resize = checkpoint.model.resize;
  }

  /** The layers of the preset's LAYERS (architecture.ts), each sized by the output of the one before. */
  private build(): Layer[] {
    const { preset, classes, dropout, widths } = this.arch;
    const device = this.device;
    const layers: Layer[] = [];
    let shape = [1, 3, this.arch.inputSize, this.arch.inputSize];
    const create = (spec: LayerSpec): Layer => {
      switch (spec.kind) {
        case 'conv': {
          const { kernel, stride, pad, groups } = spec;
          const conv = {
            inChannels: shape[1],
            outChannels: widths[spec.width],
            kernel,
            stride,
            pad,
            groups,
          };
          return new Conv2d(spec.name, conv, shape, device, spec.stateName);
        }
        case 'relu':
          return new Relu(spec.name);
        case 'lrn':
          return new Lrn(spec.name, spec.options, shape, device);
        case 'pool':
          return new MaxPool(
            spec.name,
            { kernel: spec.kernel, stride: spec.stride, pad: spec.pad },
            shape,
            device,
          );
        case 'fc': {
          const features = spec.width === 'classes' ? classes : widths[spec.width];
          return new Linear(
            spec.name,
            sizeOf(shape.slice(1)),
            features,
            shape,
            device,
            spec.stateName,
          );
        }
        case 'dropout':
          return new Dropout(spec.name, dropout, spec.key, shape, device);
      }
    };
    for (const spec of LAYERS[preset]) {
      const layer = create(spec);
      layers.push(layer);
      shape = layer.outputShape(shape);
    }
    return layers;
  }

  private initialise(init: 'he' | 'paper'): void {
    const rng = new Rng(this.seed);
    for (const [name, layer] of this.learnable) {
      const w = layer.weight.value;
      const fanIn = w.size / w.shape[0];
      // The classifier starts near zero under both schemes (N(0, 0.01), as fc8 in Caffe's
      // bvlc_alexnet train_val.prototxt): He's gain would start the softmax saturated, with a
      // first loss far above ln(classes) and steps large enough to kill ReLUs.
      const std = init === 'he' && name !== 'fc8' ? Math.sqrt(2 / fanIn) : 0.01;
      w.write(rng.normal(w.size, std));
      layer.bias.value.fill(init === 'paper' && PAPER_BIAS_ONE.includes(name) ? 1 : 0);
    }
  }

  /**
   * The most probable classes of image files or decoded images, preprocessed as in validation
   * (see lib/predict.ts): resolves to `[{ file, top: [{ label, index, probability }] }]`.
   * Files are decoded in worker threads.
   */
  classify(
    inputs: readonly ClassifyInput[],
    options: ClassifyOptions = {},
  ): Promise<Classification[]> {
    this.assertLive();
    return classify(this, inputs, options, this.decodePools);
  }

  /** The network as data: this preset's layer table (architecture.ts), for exporters. */
  layerSpecs(): readonly LayerSpec[] {
    return LAYERS[this.arch.preset];
  }

  /**
   * Writes the model as ONNX (opset 13; see lib/io/onnx.ts), with a dynamic batch axis or
   * `options.batch` fixed, the class names and preprocessing in its metadata.
   */
  exportOnnx(file: string, options: OnnxOptions = {}): Promise<void> {
    this.assertLive();
    return exportOnnx(this, file, options);
  }

  /** Output shape of every layer for one image. */
  shapes(): LayerShape[] {
    return layerShapes(this.arch);
  }

  /** Every learnable tensor, in layer order, under PyTorch's state_dict names. */
  parameters(): Param[] {
    return [...this.learnable.values()].flatMap((layer) => layer.params);
  }

  /** The parameters of the layers in `trainLayers`. */
  trainableParameters(): Param[] {
    return [...this.learnable.values()].filter((l) => l.trainable).flatMap((l) => l.params);
  }

  /**
   * Logits (n x classes, row-major) for a batch of n images, without dropout. Runs off the main
   * thread; calls on one model run in the order they were made.
   */
  async forward(x: Float32Array | Tensor, n: number): Promise<Float32Array> {
    this.checkInput(x, n);
    return this.runAsync(() => this.queueForward(this.stageInput(x, n), false), logitsOf);
  }

  /** forward, blocking the calling thread until the logits are computed. */
  forwardSync(x: Float32Array | Tensor, n: number): Float32Array {
    this.checkInput(x, n);
    return this.runSync(
      'forwardSync',
      () => this.queueForward(this.stageInput(x, n), false),
      logitsOf,
    );
  }

  /**
   * One SGD step on a batch: forward with dropout, mean softmax cross-entropy, backward down to
   * the lowest trained layer, and the optimiser's update. Resolves to the loss. A non-finite loss
   * rejects with a NonFiniteLossError, and no weight changes.
   */
  async trainStep(
    x: Float32Array | Tensor,
    labels: Int32Array,
    n: number,
    optimizer: SGD,
  ): Promise<number> {
    return (await this.trainBatch(x, labels, n, optimizer)).loss;
  }

  /** trainStep, blocking the calling thread. */
  trainStepSync(x: Float32Array | Tensor, labels: Int32Array, n: number, optimizer: SGD): number {
    return this.trainBatchSync(x, labels, n, optimizer).loss;
  }

  /** trainStep, also counting the correct top-1 predictions (the trainer's accuracy). */
  async trainBatch(
    x: Float32Array | Tensor,
    labels: Int32Array,
    n: number,
    optimizer: SGD,
  ): Promise<BatchResult> {
    this.checkInput(x, n);
    this.checkLabels(labels, n);
    return this.runAsync(
      () => this.queueTrainStep(this.stageInput(x, n), labels, optimizer),
      (results) => this.finishStep(results),
    );
  }

  /** trainBatch, blocking the calling thread. */
  trainBatchSync(
    x: Float32Array | Tensor,
    labels: Int32Array,
    n: number,
    optimizer: SGD,
  ): BatchResult {
    this.checkInput(x, n);
    this.checkLabels(labels, n);
    return this.runSync(
      'trainBatchSync',
      () => this.queueTrainStep(this.stageInput(x, n), labels, optimizer),
      (results) => this.finishStep(results),
    );
  }

  /**
   * One rank's share of a data-parallel step: `n` rows (possibly 0, when `x` is not read) at
   * `shard.offset` of a global batch of `shard.total`. The result is the global batch's.
   */
  async trainShard(
    x: Tensor,
    labels: Int32Array,
    n: number,
    optimizer: SGD,
    shard: ShardStep,
  ): Promise<BatchResult> {
    this.assertLive();
    integer('shard.total', shard.total, 1);
    integer('n', n, 0, shard.total);
    integer('shard.offset', shard.offset, 0, shard.total - n);
    if (n > 0) this.checkInput(x, n);
    this.checkLabels(labels, n);
    return this.runAsync(
      () => this.queueTrainStep(n > 0 ? x : null, labels, optimizer, shard),
      (results) => this.finishStep(results),
    );
  }

  /** Evaluates a batch: mean loss and top-1 / top-k correct counts, without dropout. */
  async evaluate(
    x: Float32Array | Tensor,
    labels: Int32Array,
    n: number,
    k = 5,
  ): Promise<Evaluation> {
    this.checkInput(x, n);
    this.checkLabels(labels, n);
    return this.runAsync(() => this.queueEvaluate(this.stageInput(x, n), labels, k), evaluation);
  }

  /** evaluate, blocking the calling thread. */
  evaluateSync(x: Float32Array | Tensor, labels: Int32Array, n: number, k = 5): Evaluation {
    this.checkInput(x, n);
    this.checkLabels(labels, n);
    return this.runSync(
      'evaluateSync',
      () => this.queueEvaluate(this.stageInput(x, n), labels, k),
      evaluation,
    );
  }

  /**
   * After this model's earlier asynchronous calls: queues the work, waits for it off the event
   * loop's thread, and reads back the tensor it fills (the logits, or the step's results).
   */
  private runAsync<T>(queue: () => Tensor, finish: (values: Float32Array) => T): Promise<T> {
    return this.serial.run(async () => {
      const out = queue();
      await flush();
      return finish(out.toArray());
    });
  }

  /** runAsync, blocking the calling thread; refused while asynchronous calls are in flight. */
  private runSync<T>(method: string, queue: () => Tensor, finish: (values: Float32Array) => T): T {
    if (this.serial.busy) {
      throw new AlexNetError(
        `${method} was called while asynchronous calls on this model are in flight; ` +
          'await them first',
      );
    }
    return finish(queue().toArray());
  }

  /** Queues the forward pass; returns the logits tensor it will fill. */
  private queueForward(input: Tensor, training: boolean, sampleOffset = 0): Tensor {
    const context: StepContext = { training, seed: this.seed, step: this.step, sampleOffset };
    let a = input;
    for (const layer of this.layers) a = layer.forward(a, context);
    return a;
  }

  /**
   * Queues a whole training step. The loss and the top-1 count land in the results tensor, read
   * back once per step; the optimiser skips its update on the device when the loss is not finite.
   */
  private queueTrainStep(
    input: Tensor | null,
    labels: Int32Array,
    optimizer: SGD,
    shard?: ShardStep,
  ): Tensor {
    const results = this.results();
    if (input) {
      this.queueLossAndBackward(input, labels, results, shard);
    } else {
      // A rank with no rows this step adds zeros to the sums, in the same order as the others.
      results.fill(0);
      for (let i = this.layers.length - 1; i >= this.lowestTrained; --i) {
        const layer = this.layers[i];
        if (!layer.trainable) continue;
        for (const p of layer.params) p.grad.fill(0);
        shard?.afterBackward(layer.params);
      }
    }
    shard?.beforeUpdate(results);
    optimizer.step({ guard: results });
    return results;
  }

  /** Forward, loss into results[0..1] and backward of the trained layers. */
  private queueLossAndBackward(
    input: Tensor,
    labels: Int32Array,
    results: Tensor,
    shard?: ShardStep,
  ): void {
    const n = input.shape[0];
    const logits = this.queueForward(input, true, shard?.offset);
    const { dlogits } = this.logitGrads.get(n);
    const into = { into: results, index: 0 };
    queueSoftmaxCrossEntropy(logits, labels, dlogits, into, shard?.total);
    queueTopKCorrect(logits, labels, 1, { into: results, index: 1 });
    let grad: Tensor | null = dlogits;
    for (let i = this.layers.length - 1; i >= this.lowestTrained && grad; --i) {
      const layer = this.layers[i];
      grad = layer.backward(grad, i > this.lowestTrained);
      if (layer.trainable) shard?.afterBackward(layer.params);
    }
  }

  /** The step's results, read back: throws on a non-finite loss, else counts the step. */
  private finishStep(results: Float32Array): BatchResult {
    const [loss, correct] = results;
    if (!Number.isFinite(loss)) {
      throw new NonFiniteLossError(
        `Loss became ${loss} at step ${this.step}; no weights were updated. ` +
          'Try a lower learning rate (--lr).',
        this.step,
      );
    }
    this.step += 1;
    return { loss, correct };
  }

  private queueEvaluate(input: Tensor, labels: Int32Array, k: number): Tensor {
    const n = input.shape[0];
    const logits = this.queueForward(input, false);
    const results = this.results();
    queueSoftmaxCrossEntropy(logits, labels, this.logitGrads.get(n).dlogits, {
      into: results,
      index: 0,
    });
    queueTopKCorrect(logits, labels, 1, { into: results, index: 1 });
    queueTopKCorrect(logits, labels, Math.min(k, this.arch.classes), { into: results, index: 2 });
    return results;
  }

  /** Where a step's loss, top-1 and top-k counts land: [loss, correct, correctTopK]. */
  private results(): Tensor {
    this.stepResults ??= Tensor.zeros([3], this.device);
    return this.stepResults;
  }

  /** Checks a batch's input: a Float32Array of n images, or a tensor of that shape. */
  private checkInput(x: Float32Array | Tensor, n: number): void {
    this.assertLive();
    const size = this.arch.inputSize;
    const shape = [integer('n', n, 1), 3, size, size];
    if (!(x instanceof Tensor)) {
      typedArray('x', x, Float32Array, n * 3 * size * size);
      return;
    }
    if (x.shape.join() !== shape.join() || x.device !== this.device) {
      throw new ShapeError(
        `Expected x of shape [${shape.join(', ')}] on ${this.device} but received ` +
          `[${x.shape.join(', ')}] on ${x.device}`,
      );
    }
  }

  /** The input tensor of a checked batch: `x` itself, or the input buffer with x written in. */
  private stageInput(x: Float32Array | Tensor, n: number): Tensor {
    if (x instanceof Tensor) return x;
    const { input } = this.inputs.get(n);
    input.write(x);
    return input;
  }

  private checkLabels(labels: Int32Array, n: number): void {
    typedArray('labels', labels, Int32Array, n);
    for (let i = 0; i < n; ++i) {
      if (labels[i] < 0 || labels[i] >= this.arch.classes) {
        throw new ArgumentError(
          `Expected labels in [0, ${this.arch.classes - 1}] but received ${labels[i]} at index ${i}`,
        );
      }
    }
  }

  private assertLive(): void {
    if (this.disposal) throw new DisposedError('This AlexNet has been disposed');
  }

  /**
   * Frees every tensor and plan the model holds, once the calls in flight have finished (at
   * once when there are none). Idempotent; resolves when the memory is released.
   */
  dispose(): Promise<void> {
    if (!this.disposal) {
      // Idle workers do not keep the process alive; stopping them needs no waiting.
      for (const pool of this.decodePools.values()) void pool.close();
      if (this.serial.busy) {
        this.disposal = this.serial.idle().then(() => this.free());
      } else {
        this.free();
        this.disposal = Promise.resolve();
      }
    }
    return this.disposal;
  }

  private free(): void {
    for (const layer of this.layers) layer.dispose();
    this.inputs.dispose();
    this.logitGrads.dispose();
    this.stepResults?.dispose();
  }
}
