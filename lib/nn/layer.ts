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

/**
 * Tensors a layer keeps per batch: allocated once for the largest batch seen, and handed out as
 * views of their first rows for smaller batches. So a layer holds one set whatever batch sizes
 * come (a server classifying 1, 7, then 16 images holds the set for 16), and the training step
 * allocates nothing once the largest batch has been seen.
 */
export class BatchBuffers<T extends Record<string, Tensor>> {
  private capacity = 0;
  private readonly views = new Map<number, T>();
  private full: T | null = null;

  constructor(private readonly create: (batch: number) => T) {}

  get(batch: number): T {
    if (batch > this.capacity) {
      this.dispose();
      this.full = this.create(batch);
      this.capacity = batch;
      this.views.set(batch, this.full);
    }
    let entry = this.views.get(batch);
    if (!entry) {
      const full = this.full!;
      entry = Object.fromEntries(
        Object.entries(full).map(([key, t]) => [key, t.view([batch, ...t.shape.slice(1)])]),
      ) as T;
      this.views.set(batch, entry);
    }
    return entry;
  }

  dispose(): void {
    for (const entry of this.views.values()) disposeAll(entry);
    this.views.clear();
    this.full = null;
    this.capacity = 0;
  }
}

/**
 * Plans (shape-specific descriptors and constants) for the most recent batch sizes, least recently
 * used first out: training needs two (full and last batch), and a bound keeps a server that
 * sees every batch size from 1 to its maximum from holding a plan for each.
 */
export class PlanCache<P extends { dispose(): void }> {
  static readonly LIMIT = 4;
  private readonly plans = new Map<number, P>();

  constructor(private readonly create: (batch: number) => P) {}

  get(batch: number): P {
    let plan = this.plans.get(batch);
    if (plan) {
      this.plans.delete(batch);
    } else {
      plan = this.create(batch);
    }
    // A Map iterates in insertion order: re-inserting keeps the least recent first.
    this.plans.set(batch, plan);
    if (this.plans.size > PlanCache.LIMIT) {
      const [oldest, stale] = this.plans.entries().next().value!;
      stale.dispose();
      this.plans.delete(oldest);
    }
    return plan;
  }

  dispose(): void {
    for (const plan of this.plans.values()) plan.dispose();
    this.plans.clear();
  }
}

/** Disposes every tensor or plan of a record. */
export function disposeAll(record: Record<string, { dispose(): void }>): void {
  for (const value of Object.values(record)) value.dispose();
}
