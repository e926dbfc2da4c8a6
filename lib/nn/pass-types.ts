/** What a model's passes over a batch give back, and what a training pass takes from above. */
import type { Param } from './layer';

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
 * How a training pass on one rank's share of a data-parallel batch differs from a whole batch
 * (lib/distributed/data-parallel.ts): where its rows sit in the global batch, the global size the
 * loss and gradients are divided by (so the ranks' sums are the global mean), and what to queue
 * as each trained layer's gradients are queued (the allreduce of a full bucket).
 */
export interface BackwardHooks {
  /** Index in the global batch of the first row. @default 0 */
  offset?: number;
  /** Rows of the global batch. @default the batch's rows */
  total?: number;
  /** Called top-down, after each trained layer's backward is queued, with its parameters. */
  afterBackward?(params: readonly Param[]): void;
}
