/**
 * The training loss and the accuracy metric over a batch of class scores (fc8's output):
 * mean softmax cross-entropy with its gradient, and top-k accuracy (top-1 and top-5 as in
 * Krizhevsky et al. 2012).
 */
import { ShapeError } from '../errors';
import { native } from '../native';
import { expectTensor, formatShape, Tensor } from '../tensor';
import { integer, typedArray } from '../validate';

/** Checks logits is (n, classes) and labels n class indices; returns [n, classes]. */
function checkBatch(logits: Tensor, labels: Int32Array): [number, number] {
  expectTensor('logits', logits);
  if (logits.shape.length !== 2) {
    throw new ShapeError(
      `Expected shape [n, classes] for logits but received ${formatShape(logits.shape)}`,
    );
  }
  const [n, classes] = logits.shape;
  typedArray('labels', labels, Int32Array, n);
  for (let i = 0; i < n; ++i) integer(`labels[${i}]`, labels[i], 0, classes - 1);
  return [n, classes];
}

/** Where a queued result lands: element `index` of the tensor `into`. */
export interface ResultSlot {
  into: Tensor;
  index: number;
}

function checkSlot(slot: ResultSlot, logits: Tensor): void {
  expectTensor('into', slot.into, undefined, logits.device);
  integer('index', slot.index, 0, slot.into.size - 1);
}

/** Reads back a single result queued by `enqueue` (blocking until it is computed). */
function readResult(logits: Tensor, enqueue: (slot: ResultSlot) => void): number {
  const into = Tensor.zeros([1], logits.device);
  try {
    enqueue({ into, index: 0 });
    return into.toArray()[0];
  } finally {
    into.dispose();
  }
}

/**
 * Mean over the batch of -log softmax(logits[i])[labels[i]]; writes the gradient of that mean,
 * (softmax - onehot) / n, into `dlogits` (same shape as `logits`) and returns the loss.
 * Blocks until it is computed; `queueSoftmaxCrossEntropy` leaves the loss on the device.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Int32Array, dlogits: Tensor): number {
  return readResult(logits, (slot) => queueSoftmaxCrossEntropy(logits, labels, dlogits, slot));
}

/**
 * softmaxCrossEntropy, queued: the loss (float32) is written to the slot. With `divisor` the
 * loss and gradient are the rows' sum divided by it instead of by n: a data-parallel rank holding
 * part of a global batch passes the global size, so the ranks' losses and gradients sum to the
 * global mean.
 */
export function queueSoftmaxCrossEntropy(
  logits: Tensor,
  labels: Int32Array,
  dlogits: Tensor,
  slot: ResultSlot,
  divisor?: number,
): void {
  const [n] = checkBatch(logits, labels);
  expectTensor('dlogits', dlogits, logits.shape, logits.device);
  checkSlot(slot, logits);
  const d = integer('divisor', divisor ?? n, n);
  native.softmaxCrossEntropy(
    logits.handle,
    labels,
    dlogits.handle,
    slot.into.handle,
    slot.index,
    d,
  );
}

/**
 * How many rows have their label among the `k` largest logits. On ties a label counts when
 * fewer than `k` logits are strictly greater than its own. Blocks until it is computed.
 */
export function topKCorrect(logits: Tensor, labels: Int32Array, k: number): number {
  return readResult(logits, (slot) => queueTopKCorrect(logits, labels, k, slot));
}

/** topKCorrect, queued: the count is written to the slot. */
export function queueTopKCorrect(
  logits: Tensor,
  labels: Int32Array,
  k: number,
  slot: ResultSlot,
): void {
  const [, classes] = checkBatch(logits, labels);
  integer('k', k, 1, classes);
  checkSlot(slot, logits);
  native.topKCorrect(logits.handle, labels, k, slot.into.handle, slot.index);
}
