/**
 * Per-channel bias of conv and fully connected layers, over tensors of shape (N, C, ...):
 * `biasAdd` adds b[c] in place, `biasBackward` sums the gradient over everything but C, and
 * `reluBiasBackward` is the backward of a forward whose epilogue (ops/epilogue.ts) added the
 * bias and applied ReLU.
 */
import { ShapeError } from '../errors';
import { native } from '../native';
import { expectTensor, formatShape, type Tensor } from '../tensor';

/** Checks that `t` is a live tensor of at least 2 dimensions and returns its channel count. */
function channelsOf(name: string, t: unknown): number {
  const tensor = expectTensor(name, t);
  if (tensor.shape.length < 2) {
    throw new ShapeError(
      `Expected at least 2 dimensions (N, C, ...) for ${name} but received ${formatShape(tensor.shape)}`,
    );
  }
  return tensor.shape[1];
}

/** y[n, c, ...] += b[c], in place; b has shape [C]. */
export function biasAdd(y: Tensor, b: Tensor): void {
  const channels = channelsOf('y', y);
  expectTensor('b', b, [channels], y.device);
  native.biasForward(y.handle, b.handle);
}

/** db[c] = the sum of dy[n, c, ...] over the batch and the positions; overwrites db. */
export function biasBackward(dy: Tensor, db: Tensor): void {
  const channels = channelsOf('dy', dy);
  expectTensor('db', db, [channels], dy.device);
  native.biasBackward(dy.handle, db.handle);
}

/**
 * The backward of bias + ReLU fused into a forward's epilogue, in one pass over dy: dy = 0 where
 * the layer's output `y` is not positive (in place, as reluBackward(y, dy, dy)), then, with `db`,
 * db[c] = the sum of the masked dy over everything but C, as biasBackward. Bit-identical to those
 * two ops.
 */
export function reluBiasBackward(y: Tensor, dy: Tensor, db?: Tensor): void {
  const channels = channelsOf('y', y);
  expectTensor('dy', dy, y.shape, y.device);
  if (db !== undefined) expectTensor('db', db, [channels], y.device);
  native.reluBiasBackward(y.handle, dy.handle, db?.handle ?? null);
}
