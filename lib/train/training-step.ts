/**
 * One training step, as llm.c's loop spells it: the model's forward pass with dropout, the mean
 * softmax cross-entropy and the backward pass of its trained layers (lib/nn), then the
 * optimizer's update. The loss and the top-1 count are read back once per step, together; the
 * update is skipped on the device when the loss is not finite, and the step then rejects with a
 * NonFiniteLossError, having changed no weight. A data-parallel step (lib/distributed) adds the
 * allreduce of each bucket of gradients as the backward pass fills it.
 */
import type { DataParallel } from '../distributed/data-parallel';
import { NonFiniteLossError } from '../errors';
import type { AlexNet } from '../nn/alexnet';
import type { BatchResult } from '../nn/pass-types';
import type { Tensor } from '../tensor';
import { integer } from '../validate';
import type { Optimizer } from './optimizer';

/** A batch to train on: n images (NCHW) and their labels. */
export interface TrainingBatch {
  x: Float32Array | Tensor;
  labels: Int32Array;
  n: number;
  /**
   * With `parallel`: the index in the global batch of this rank's first row, and the global
   * batch's size (`n` is this rank's share, possibly 0, when `x` is not read). @default 0, n
   */
  offset?: number;
  total?: number;
}

export interface TrainStepOptions {
  /** Train as one rank of a data-parallel job: gradients are summed over the ranks. */
  parallel?: DataParallel;
}

/**
 * One step on a batch: resolves to the loss and the top-1 count (of the global batch, with
 * `parallel`). Runs off the main thread, in order with the model's other calls; leave `x` and
 * `labels` unchanged until it settles.
 */
export function trainStep(
  net: AlexNet,
  optimizer: Optimizer,
  batch: TrainingBatch,
  options: TrainStepOptions = {},
): Promise<BatchResult> {
  const queue = prepareStep(net, optimizer, batch, options.parallel);
  return net.inOrder(queue, (results) => finishStep(net, results));
}

/**
 * trainStep, blocking the calling thread: for the benchmarks that time a step alone
 * (scripts/bench) and scripts with nothing else to do meanwhile.
 */
export function trainStepSync(
  net: AlexNet,
  optimizer: Optimizer,
  batch: TrainingBatch,
): BatchResult {
  const queue = prepareStep(net, optimizer, batch);
  return net.inOrderSync('trainStepSync', queue, (results) => finishStep(net, results));
}

/** Checks the batch; returns what queues the step and its results tensor. */
function prepareStep(
  net: AlexNet,
  optimizer: Optimizer,
  batch: TrainingBatch,
  parallel?: DataParallel,
): () => Tensor {
  const { x, labels } = batch;
  // A data-parallel rank may have no rows of a short last batch.
  const n = integer('n', batch.n, parallel ? 0 : 1);
  const total = integer('total', batch.total ?? n, Math.max(n, 1));
  const offset = integer('offset', batch.offset ?? 0, 0, total - n);
  if (n > 0) net.checkInput(x, n);
  net.checkLabels(labels, n);
  const sync = parallel?.gradientSync(batch);
  return () => {
    const input = n > 0 ? net.stageInput(x, n) : null;
    const results = net.queueTrainingPass(input, labels, { offset, total, ...sync });
    sync?.beforeUpdate(results);
    optimizer.step({ guard: results });
    return results;
  };
}

/** The step's results, read back: throws on a non-finite loss, else counts the step. */
function finishStep(net: AlexNet, [loss, correct]: Float32Array): BatchResult {
  if (!Number.isFinite(loss)) {
    throw new NonFiniteLossError(
      `Loss became ${loss} at step ${net.step}; no weights were updated. ` +
        'Try a lower learning rate (--lr).',
      net.step,
    );
  }
  net.step += 1;
  return { loss, correct };
}
