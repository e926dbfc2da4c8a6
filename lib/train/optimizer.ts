/**
 * What the training step needs of an optimizer (SGD in lib/train/sgd.ts): queue one update of
 * every parameter it owns from the gradients the backward pass left, skipped on the device when
 * the step's loss is not finite.
 */
import type { Tensor } from '../tensor';

export interface Optimizer {
  /** The learning rate of the next update; the trainer's schedule sets it. */
  lr: number;
  /**
   * Queues one update of every parameter from its current gradient; with a `guard` tensor, the
   * update is skipped unless its first element (the batch's loss) is finite.
   */
  step(options?: { guard?: Tensor }): void;
  /** The optimizer's state tensors by parameter name, for checkpoints. */
  buffers(): ReadonlyMap<string, Tensor>;
  dispose(): void;
}
