/**
 * The contract between AlexNet and its layers. A layer owns its parameters and, per batch size,
 * its output and input-gradient buffers (allocated once, reused every step: no allocation in
 * the training step). forward() returns the layer's output tensor; backward() takes the
 * gradient of that output and returns the gradient of the input, or null when nothing below
 * needs it.
 */
import type { Tensor } from '../tensor';

/** A learnable tensor, its gradient, and whether weight decay applies (weights, not biases). */
export interface Param {
  /** PyTorch's state_dict name, e.g. `conv1.weight`. */
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;
  readonly decay: boolean;
}

/** What a forward pass needs to know beyond its input. */
export interface StepContext {
  /** Training mode: dropout is active. */
  training: boolean;
  /** Keys of the counter-based RNG: the same (seed, step) gives the same dropout masks. */
  seed: number;
  step: number;
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
 * Buffers and plans a layer keeps per batch size. Training and validation usually use one or
 * two batch sizes (the last batch of an epoch may be smaller), so this stays small.
 */
export class PerBatch<T extends Record<string, { dispose(): void }>> {
  private readonly entries = new Map<number, T>();

  constructor(private readonly create: (batch: number) => T) {}

  get(batch: number): T {
    let entry = this.entries.get(batch);
    if (!entry) {
      entry = this.create(batch);
      this.entries.set(batch, entry);
    }
    return entry;
  }

  dispose(): void {
    for (const entry of this.entries.values()) disposeAll(entry);
    this.entries.clear();
  }
}

/** Disposes every tensor or plan of a record. */
export function disposeAll(record: Record<string, { dispose(): void }>): void {
  for (const value of Object.values(record)) value.dispose();
}
