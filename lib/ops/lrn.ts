/**
 * Local response normalisation across channels (Krizhevsky et al. 2012 §3.3), in the form of
 * Caffe's lrn_layer and cuDNN, which divide alpha by the window size:
 * `y = x / (k + alpha / size * Σ x_c'²) ^ beta`, summed over the `size` channels c' centred on
 * x's channel (clipped at the first and last). A plan holds one layer's shape and constants.
 */
import { ArgumentError, DisposedError, ShapeError } from '../errors';
import { native } from '../native';
import { checkDevice, type Device, expectTensor, formatShape, type Tensor } from '../tensor';
import { fail, finiteNumber, nchwShape } from '../validate';
import { PlanHandle } from './plan-handle';
import type { MaxPoolPlan } from './pool';

export interface LrnOptions {
  /**
   * Channels in a window, centred on the normalised one: an odd integer from 1 to 15 (cuDNN
   * accepts 1 to 16, CUDNN_LRN_MAX_N; Caffe only odd sizes, so that the window is centred).
   * @default 5
   */
  size?: number;
  /**
   * Weight of the sum of squares, divided by `size` before use: the Caffe and cuDNN convention,
   * which bvlc_alexnet was trained with (the paper's formula does not divide). At least 0.
   * @default 1e-4
   */
  alpha?: number;
  /** Exponent of the scale; at least 0.01 (cuDNN's CUDNN_LRN_MIN_BETA). @default 0.75 */
  beta?: number;
  /**
   * Additive constant of the scale; at least 1e-5 (cuDNN's CUDNN_LRN_MIN_K). The paper uses 2,
   * bvlc_alexnet 1.
   * @default 1
   */
  k?: number;
}

export class LrnPlan {
  /** The (n, c, h, w) shape of x, y, dy and dx. */
  readonly shape: readonly number[];
  readonly device: Device;
  /** The options with their defaults filled in. */
  readonly options: Readonly<Required<LrnOptions>>;
  private readonly plan: PlanHandle;

  constructor(shape: readonly number[], options: LrnOptions = {}, device: Device = 'cpu') {
    const dims = nchwShape('shape', shape);
    if (typeof options !== 'object' || options === null) fail('object', 'options', options);
    const size = options.size ?? 5;
    if (!Number.isInteger(size) || size < 1 || size > 15 || size % 2 === 0) {
      fail('odd integer between 1 and 15', 'size', size);
    }
    const alpha = finiteNumber('alpha', options.alpha ?? 1e-4, 0);
    const beta = finiteNumber('beta', options.beta ?? 0.75, 0.01);
    const k = finiteNumber('k', options.k ?? 1, 1e-5);
    this.device = checkDevice(device);
    this.shape = Object.freeze(dims);
    this.options = Object.freeze({ size, alpha, beta, k });
    this.plan = new PlanHandle(
      new native.LrnPlan(...dims, size, alpha, beta, k, this.device),
      () => `LrnPlan ${formatShape(this.shape)}`,
    );
  }

  get disposed(): boolean {
    return this.plan.disposed;
  }

  /** `y = LRN(x)`; `y` must be another tensor than `x`. */
  forward(x: Tensor, y: Tensor): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.shape, this.device);
    expectTensor('y', y, this.shape, this.device);
    if (y === x) throw new ArgumentError('Expected a tensor other than x for y but received x');
    native.lrnForward(handle, x.handle, y.handle);
  }

  /**
   * `y` = `pool`'s max pooling of LRN(x), on the CPU, without writing LRN(x) out: each thread
   * holds one channel's plane of it at a time. Bit for bit what `forward` then `pool.forward`
   * give, with a third of their memory traffic, for inference, where no backward needs LRN(x).
   * `pool` takes this plan's shape; `y` has its output shape.
   */
  forwardPooled(x: Tensor, pool: MaxPoolPlan, y: Tensor): void {
    const handle = this.plan.live;
    if (this.device !== 'cpu') {
      throw new ArgumentError(`Expected an LrnPlan on the CPU but received one on ${this.device}`);
    }
    if (pool.disposed) {
      throw new DisposedError(`MaxPoolPlan ${formatShape(pool.inputShape)} has been disposed`);
    }
    if (formatShape(pool.inputShape) !== formatShape(this.shape)) {
      throw new ShapeError(
        `Expected a MaxPoolPlan of input shape ${formatShape(this.shape)} for pool but received ${formatShape(pool.inputShape)}`,
      );
    }
    expectTensor('x', x, this.shape, this.device);
    expectTensor('y', y, pool.outputShape, this.device);
    if (y === x) throw new ArgumentError('Expected a tensor other than x for y but received x');
    const { kernel, stride, pad } = pool.options;
    native.lrnMaxPoolForward(handle, x.handle, y.handle, kernel, stride, pad);
  }

  /**
   * `dx` from the forward input `x`, its output `y` and the output's gradient `dy`. `dx` may be
   * `dy` or `y`, not `x`.
   */
  backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.shape, this.device);
    expectTensor('y', y, this.shape, this.device);
    expectTensor('dy', dy, this.shape, this.device);
    expectTensor('dx', dx, this.shape, this.device);
    if (dx === x) throw new ArgumentError('Expected a tensor other than x for dx but received x');
    native.lrnBackward(handle, x.handle, y.handle, dy.handle, dx.handle);
  }

  /** Frees the plan now. Idempotent; any later use throws a DisposedError. */
  dispose(): void {
    this.plan.dispose();
  }
}
