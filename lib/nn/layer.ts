/**
 * The contract between AlexNet and its layers. A layer owns its parameters and its output and
 * input-gradient buffers (BatchBuffers: allocated once for the largest batch, reused every step;
 * the gradient buffers only once the layer first runs backward). forward() returns the layer's output tensor; backward() takes the
 * gradient of that output and returns the gradient of the input, or null when nothing below
 * needs it.
 */
import { type Device, Tensor } from '../tensor';

/** A learnable tensor, its gradient, and whether weight decay applies (weights, not biases). */
export class Param {
  readonly value: Tensor;
  private gradient: Tensor | null = null;

  constructor(
    /** PyTorch's state_dict name, e.g. `conv1.weight` (`features.0.weight` in torchvision's). */
    readonly name: string,
    shape: readonly number[],
    device: Device,
    readonly decay: boolean,
    /** The layer it belongs to, e.g. `conv1`: what `trainLayers` and `skip` name. */
    readonly layer: string = name.split('.')[0],
  ) {
    this.value = Tensor.zeros(shape, device);
  }

  /** The gradient, allocated on first use: a model that only infers holds none. */
  get grad(): Tensor {
    this.gradient ??= Tensor.zeros(this.value.shape, this.value.device);
    return this.gradient;
  }

  dispose(): void {
    this.value.dispose();
    this.gradient?.dispose();
  }
}

/** What a forward pass needs to know beyond its input. */
export interface StepContext {
  /** Training mode: dropout is active. */
  training: boolean;
  /** Keys of the counter-based RNG: the same (seed, step) gives the same dropout masks. */
  seed: number;
  step: number;
  /**
   * Index in the global batch of this batch's first row: a data-parallel rank's share draws the
   * dropout masks of its rows, not of rows 0... @default 0
   */
  sampleOffset?: number;
}

export interface Layer {
  readonly name: string;
  readonly params: readonly Param[];
  /** Shape of the output for an input of `shape`; throws a ShapeError naming the layer. */
  outputShape(shape: readonly number[]): number[];
  forward(x: Tensor, context: StepContext): Tensor;
  /**
   * Writes the parameter gradients (overwriting) when `trainable`, and returns the input
   * gradient when `needInputGrad`. May consume `dy` as scratch.
   */
  backward(dy: Tensor, needInputGrad: boolean): Tensor | null;
  trainable: boolean;
  dispose(): void;
}
