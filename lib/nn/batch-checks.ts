/** Checks of a batch given to a model: its images' shape and device, and its labels' range. */
import { ArgumentError, ShapeError } from '../errors';
import { type Device, Tensor } from '../tensor';
import { integer, typedArray } from '../validate';

/** `x`: a Float32Array of n images of 3 x size x size, or a tensor of that shape on `device`. */
export function checkImages(
  x: Float32Array | Tensor,
  n: number,
  size: number,
  device: Device,
): void {
  const shape = [integer('n', n, 1), 3, size, size];
  if (!(x instanceof Tensor)) {
    typedArray('x', x, Float32Array, n * 3 * size * size);
    return;
  }
  if (x.shape.join() !== shape.join() || x.device !== device) {
    throw new ShapeError(
      `Expected x of shape [${shape.join(', ')}] on ${device} but received ` +
        `[${x.shape.join(', ')}] on ${x.device}`,
    );
  }
}

/** `labels`: n class indices in [0, classes). */
export function checkLabels(labels: Int32Array, n: number, classes: number): void {
  typedArray('labels', labels, Int32Array, n);
  for (let i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw new ArgumentError(
        `Expected labels in [0, ${classes - 1}] but received ${labels[i]} at index ${i}`,
      );
    }
  }
}
