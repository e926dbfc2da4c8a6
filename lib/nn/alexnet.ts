/**
 * AlexNet: five convolutions and three fully connected layers, with the LRN, overlapping
 * pooling and dropout of Krizhevsky et al. 2012, in the `bvlc` (Caffe reference) or `paper`
 * preset, at any input size from 67 and any width scale. The model builds its layers, owns
 * their parameters and per-batch buffers, and runs forward, and loss with backward; the training
 * step and its optimizer (lib/train), classifying files (lib/predict.ts) and file formats
 * (lib/io) sit around it. `dispose()` frees its memory.
 */

import { BatchBuffers } from '../batch-buffers';
import { type DeviceRequest, resolveDevice } from '../device';
import { AlexNetError, DisposedError } from '../errors';
import {
  pthWeights,
  readCheckpointFile,
  readWeightsFile,
  saveModel,
  type WeightsFile,
  weightsFormat,
} from '../io/model-file';
import { exportOnnx, type OnnxOptions } from '../io/onnx';
import type { Normalisation, ResizeSetting } from '../io/preprocessing';
import { readPth } from '../io/pth';
import type { NamedArray } from '../io/safetensors';
import { queueSoftmaxCrossEntropy, queueTopKCorrect } from '../ops/loss';
import { flush, InOrder } from '../queue';
import { type Device, Tensor } from '../tensor';
import { fail, integer } from '../validate';
import {
  type Architecture,
  architecture,
  checkTrainLayers,
  DEFAULT_INPUT_SIZE,
  LAYER_NAMES,
  LAYERS,
  type LayerName,
  type LayerShape,
  type LayerSpec,
  layerShapes,
  type Preset,
} from './architecture';
import { checkImages, checkLabels } from './batch-checks';
import { buildLayers } from './build-layers';
import { Conv2d } from './conv2d';
import { type Init, initialise } from './initialise';
import type { Layer, Param, StepContext } from './layer';
import { Linear } from './linear';
import type { BackwardHooks, Evaluation } from './pass-types';
import { presetInput } from './preset-input';
import { adoptWeights, pthShape } from './weights';

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
  /** Dropout probability before fc7 and fc8; 0 disables it. @default 0.5 */
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
  private readonly calls = new InOrder();
  /** Set by dispose(): settles once the memory is released. */
  private disposal: Promise<void> | null = null;

  constructor(options: AlexNetOptions = {}) {
    const preset = options.preset ?? 'bvlc';
    this.arch = architecture({
      preset,
      classes: options.classes ?? 1000,
      // An unknown preset is refused by architecture(), before the size matters.
      inputSize: options.inputSize ?? DEFAULT_INPUT_SIZE[preset] ?? 227,
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

    this.layers = buildLayers(this.arch, this.device);
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
    if (init !== 'none') initialise(this.learnable, init, this.seed);
    this.classNames = Array.from({ length: this.arch.classes }, (_, i) => String(i));
    ({ normalisation: this.normalisation, resize: this.resize } = presetInput(
      this.arch.preset,
      this.arch.inputSize,
    ));
  }

  /**
   * A model ready to predict, from a checkpoint written by `save` or the trainer (its
   * architecture, classes and preprocessing) or from bvlc_alexnet.npy (the bvlc preset with the
   * 1000 ImageNet classes). Errors name the file.
   */
  static async fromFile(file: string, options: { device?: DeviceRequest } = {}): Promise<AlexNet> {
    const format = weightsFormat(file);
    if (format === 'bvlc') {
      const net = new AlexNet({ classes: 1000, device: options.device, init: 'none' });
      return net.disposingOnError(() => net.load(file));
    }
    if (format === 'pth') return AlexNet.fromPth(file, await readPth(file), options);
    const checkpoint = await readCheckpointFile(file);
    const { model } = checkpoint;
    let net: AlexNet;
    try {
      net = new AlexNet({
        // The preset's name is checked by architecture(), as any other option.
        preset: model.preset as Preset,
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
    const read: WeightsFile = { format: 'checkpoint', weights: checkpoint.weights, checkpoint };
    return net.disposingOnError(async () => adoptWeights(net, read, []));
  }

  /** The torchvision preset at the widths and classes of a .pth file's state_dict. */
  private static fromPth(
    file: string,
    tensors: Record<string, NamedArray>,
    options: { device?: DeviceRequest },
  ): Promise<AlexNet> {
    const shape = pthShape(file, tensors);
    const net = new AlexNet({ preset: 'torchvision', ...shape, ...options, init: 'none' });
    const read: WeightsFile = { format: 'pth', weights: pthWeights(tensors, file, net) };
    return net.disposingOnError(async () => adoptWeights(net, read, []));
  }

  /** Writes the weights, class names and preprocessing to a safetensors file (atomically). */
  async save(file: string): Promise<void> {
    this.assertLive();
    await saveModel(file, this);
  }

  /**
   * Loads weights from a checkpoint written by `save` or the trainer (`.safetensors`: weights,
   * class names and preprocessing), or from the public bvlc_alexnet.npy (`.npy`: the weights,
   * Caffe's BGR mean-subtracted input convention, and the ImageNet class names with fc8).
   * Layers named in `skip` (e.g. ['fc8'] to fine-tune on other classes) keep their current
   * weights; a file whose fc8 does not match `classes` needs it. Errors name the file.
   */
  async load(file: string, options: { skip?: LayerName[] } = {}): Promise<void> {
    this.assertLive();
    const skip = options.skip ? checkTrainLayers(options.skip) : [];
    adoptWeights(this, await readWeightsFile(file, this, skip), skip);
  }

  /** The learnable layers' names, in order (for lib/io's weights readers). */
  get layerNames(): readonly LayerName[] {
    return LAYER_NAMES;
  }

  /** pool5's output for one image: the order of fc6's inputs (for lib/io's weights readers). */
  get pool5(): readonly [number, number, number] {
    const [channels, height, width] = this.shapes().find((s) => s.name === 'pool5')!.shape;
    return [channels, height, width];
  }

  /** This model once `work` is done; disposed if `work` throws. */
  private async disposingOnError(work: () => Promise<void>): Promise<AlexNet> {
    try {
      await work();
      return this;
    } catch (error) {
      await this.dispose();
      throw error;
    }
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
    return this.inOrder(() => this.queueForward(this.stageInput(x, n), false), logitsOf);
  }

  /**
   * forward, blocking the calling thread until the logits are computed: for benchmarks that time
   * the pass alone (scripts/bench), and scripts with nothing else to do meanwhile.
   */
  forwardSync(x: Float32Array | Tensor, n: number): Float32Array {
    this.checkInput(x, n);
    return this.inOrderSync(
      'forwardSync',
      () => this.queueForward(this.stageInput(x, n), false),
      logitsOf,
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
    return this.inOrder(() => this.queueEvaluate(this.stageInput(x, n), labels, k), evaluation);
  }

  /**
   * After this model's earlier asynchronous calls: queues the work, waits for it off the event
   * loop's thread, and reads back the tensor it fills (the logits, or a step's results). The
   * floors above (lib/train's training step) run their own passes through it.
   */
  inOrder<T>(queue: () => Tensor, finish: (values: Float32Array) => T): Promise<T> {
    this.assertLive();
    return this.calls.run(async () => {
      const out = queue();
      await flush();
      return finish(out.toArray());
    });
  }

  /** inOrder, blocking the calling thread; refused while asynchronous calls are in flight. */
  inOrderSync<T>(method: string, queue: () => Tensor, finish: (values: Float32Array) => T): T {
    this.assertLive();
    if (this.calls.busy) {
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
   * Queues a training pass for lib/train's step: forward with dropout, the mean loss into
   * results[0] and the top-1 count into results[1], and backward down to the lowest trained
   * layer, leaving each trained parameter's gradient in `grad`. With no input (a data-parallel
   * rank without rows this step) it writes zeros instead, in the same order as the others.
   * Returns the results tensor, [loss, correct, -].
   */
  queueTrainingPass(input: Tensor | null, labels: Int32Array, hooks: BackwardHooks = {}): Tensor {
    const results = this.results();
    if (!input) {
      results.fill(0);
      for (let i = this.layers.length - 1; i >= this.lowestTrained; --i) {
        const layer = this.layers[i];
        if (!layer.trainable) continue;
        for (const p of layer.params) p.grad.fill(0);
        hooks.afterBackward?.(layer.params);
      }
      return results;
    }
    const n = input.shape[0];
    const logits = this.queueForward(input, true, hooks.offset);
    const { dlogits } = this.logitGrads.get(n);
    queueSoftmaxCrossEntropy(logits, labels, dlogits, { into: results, index: 0 }, hooks.total);
    queueTopKCorrect(logits, labels, 1, { into: results, index: 1 });
    let grad: Tensor | null = dlogits;
    for (let i = this.layers.length - 1; i >= this.lowestTrained && grad; --i) {
      const layer = this.layers[i];
      grad = layer.backward(grad, i > this.lowestTrained);
      if (layer.trainable) hooks.afterBackward?.(layer.params);
    }
    return results;
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

  /** Where a pass's loss, top-1 and top-k counts land: [loss, correct, correctTopK]. */
  private results(): Tensor {
    this.stepResults ??= Tensor.zeros([3], this.device);
    return this.stepResults;
  }

  /** Checks a batch's input: a Float32Array of n images, or a tensor of that shape. */
  checkInput(x: Float32Array | Tensor, n: number): void {
    this.assertLive();
    checkImages(x, n, this.arch.inputSize, this.device);
  }

  /** The input tensor of a checked batch: `x` itself, or the input buffer with x written in. */
  stageInput(x: Float32Array | Tensor, n: number): Tensor {
    if (x instanceof Tensor) return x;
    const { input } = this.inputs.get(n);
    input.write(x);
    return input;
  }

  /** Checks n labels, each a class index. */
  checkLabels(labels: Int32Array, n: number): void {
    checkLabels(labels, n, this.arch.classes);
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
      this.disposal = this.calls.busy
        ? this.calls.idle().then(() => this.free())
        : Promise.resolve(this.free());
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
