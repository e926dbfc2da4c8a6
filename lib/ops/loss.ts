/**
 * The training loss and the accuracy metric over a batch of class scores (fc8's output):
 * mean softmax cross-entropy with its gradient, and top-k accuracy (top-1 and top-5 as in
 * Krizhevsky et al. 2012).
 */
import { ShapeError } from '../errors';
import { native } from '../native';
import { expectTensor, formatShape, type Tensor } from '../tensor';
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

/**
 * Mean over the batch of -log softmax(logits[i])[labels[i]]; writes the gradient of that mean,
 * (softmax - onehot) / n, into `dlogits` (same shape as `logits`) and returns the loss.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Int32Array, dlogits: Tensor): number {
  checkBatch(logits, labels);
  expectTensor('dlogits', dlogits, logits.shape, logits.device);
  return native.softmaxCrossEntropy(logits.handle, labels, dlogits.handle);
}

/**
 * How many rows have their label among the `k` largest logits. On ties a label counts when
 * fewer than `k` logits are strictly greater than its own.
 */
export function topKCorrect(logits: Tensor, labels: Int32Array, k: number): number {
  const [, classes] = checkBatch(logits, labels);
  integer('k', k, 1, classes);
  return native.topKCorrect(logits.handle, labels, k);
}
