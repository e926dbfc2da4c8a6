/**
 * What the training step, the trainer, data parallelism and checkpoints need from an optimiser:
 * SGD (sgd.ts), Adam and AdamW (adam.ts) implement it, as torch.optim's optimisers share
 * torch.optim.Optimizer.
 */
import type { Tensor } from '../tensor';

/** The optimisers a checkpoint can name: a resume must use the one it was trained with. */
export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** The learning rate of the next step; schedules set it. */
  lr: number;
  /**
   * Queues one update of every trainable parameter from its current gradient; with a `guard`
   * tensor, nothing changes unless its first element (the batch's loss) is finite.
   */
  step(options?: { guard?: Tensor }): void;
  /**
   * The state tensors by `<PyTorch's state name>.<parameter name>` (`momentum.fc8.weight`,
   * `exp_avg.fc8.weight`, `exp_avg_sq.fc8.weight`, `step.fc8.weight`), for checkpoints.
   */
  state(): ReadonlyMap<string, Tensor>;
  dispose(): void;
}
