/**
 * Rectified linear unit, AlexNet's non-linearity (Krizhevsky et al. 2012 §3.1): `y = max(x, 0)`.
 */
import { native } from '../native';
import { expectTensor, type Tensor } from '../tensor';

/** `y = max(x, 0)` element-wise; `y` may be `x` (in place). */
export function reluForward(x: Tensor, y: Tensor): void {
  expectTensor('x', x);
  expectTensor('y', y, x.shape, x.device);
  native.reluForward(x.handle, y.handle);
}

/** `dx = dy` where the forward output `y` is positive, else 0; `dx` may be `dy` (in place). */
export function reluBackward(y: Tensor, dy: Tensor, dx: Tensor): void {
  expectTensor('y', y);
  expectTensor('dy', dy, y.shape, y.device);
  expectTensor('dx', dx, y.shape, y.device);
  native.reluBackward(y.handle, dy.handle, dx.handle);
}
