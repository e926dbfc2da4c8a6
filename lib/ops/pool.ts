/**
 * Max pooling over square windows, AlexNet's overlapping pooling (Krizhevsky et al. 2012 §3.4:
 * 3x3 windows, stride 2). The output side is `floor((in + 2 * pad - kernel) / stride) + 1`,
 * PyTorch's default; Caffe rounds up instead, which gives the same sizes on AlexNet's shapes
 * (55 -> 27, 27 -> 13, 13 -> 6). A plan holds one layer's shapes.
 */
import { ArgumentError } from '../errors';
import { native } from '../native';
import { checkDevice, type Device, expectTensor, formatShape, type Tensor } from '../tensor';
import { boolean, fail, integer, nchwShape } from '../validate';
import { PlanHandle } from './plan-handle';

export interface MaxPoolOptions {
  /** Side of the square window. @default 3 */
  kernel?: number;
  /** Step between windows, in both directions. @default 2 */
  stride?: number;
  /**
   * Positions of -Infinity padding on each side; at most kernel / 2 (as in PyTorch), so that no
   * window is padding only.
   * @default 0
   */
  pad?: number;
}

/** How a plan runs, beyond the pooling itself. */
export interface MaxPoolPlanOptions {
  /**
   * The forward keeps each window's argmax in the plan (on the CPU; cuDNN does without), and a
   * backward given the same x and y tensors as the last forward reads it instead of searching
   * each window of x again, with the same result. x and y must then still hold what that forward
   * read and wrote, as between a layer's forward and backward. On the CPU the forward then costs
   * about what the backward saves (bench/RESULTS.md), so the model's layers do not ask for it.
   * @default false
   */
  keepArgmax?: boolean;
}

export class MaxPoolPlan {
  /** The (n, c, h, w) shape of x and dx. */
  readonly inputShape: readonly number[];
  /** The (n, c, oh, ow) shape of y and dy. */
  readonly outputShape: readonly number[];
  readonly device: Device;
  /** The options with their defaults filled in. */
  readonly options: Readonly<Required<MaxPoolOptions>>;
  private readonly plan: PlanHandle;
  private readonly keepArgmax: boolean;
  /** The tensors of the last forward, whose argmax the plan keeps (keepArgmax). */
  private kept: { x: Tensor; y: Tensor } | null = null;

  constructor(
    inputShape: readonly number[],
    options: MaxPoolOptions = {},
    device: Device = 'cpu',
    planOptions: MaxPoolPlanOptions = {},
  ) {
    const [n, c, h, w] = nchwShape('inputShape', inputShape);
    if (typeof options !== 'object' || options === null) fail('object', 'options', options);
    const kernel = integer('kernel', options.kernel ?? 3, 1);
    const stride = integer('stride', options.stride ?? 2, 1);
    const pad = integer('pad', options.pad ?? 0, 0, Math.floor(kernel / 2));
    const padded = Math.min(h, w) + 2 * pad;
    if (kernel > padded) {
      fail(`integer <= ${padded}, the padded input's smaller side,`, 'kernel', kernel);
    }
    const out = (size: number) => Math.floor((size + 2 * pad - kernel) / stride) + 1;
    this.device = checkDevice(device);
    this.inputShape = Object.freeze([n, c, h, w]);
    this.outputShape = Object.freeze([n, c, out(h), out(w)]);
    this.options = Object.freeze({ kernel, stride, pad });
    if (typeof planOptions !== 'object' || planOptions === null) {
      fail('object', 'planOptions', planOptions);
    }
    this.keepArgmax = boolean('keepArgmax', planOptions.keepArgmax ?? false);
    this.plan = new PlanHandle(
      new native.PoolPlan(n, c, h, w, kernel, stride, pad, this.device),
      () => `MaxPoolPlan ${formatShape(this.inputShape)}`,
    );
  }

  get disposed(): boolean {
    return this.plan.disposed;
  }

  /** `y` = the maximum of each window of `x`; `y` must be another tensor than `x`. */
  forward(x: Tensor, y: Tensor): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.inputShape, this.device);
    expectTensor('y', y, this.outputShape, this.device);
    if (y === x) throw new ArgumentError('Expected a tensor other than x for y but received x');
    native.maxPoolForward(handle, x.handle, y.handle, this.keepArgmax);
    this.kept = this.keepArgmax ? { x, y } : null;
  }

  /**
   * `dx` from the forward input `x`, its output `y` and the output's gradient `dy`: each window's
   * gradient goes to its maximum (the first in row-major order on ties), summed where windows
   * overlap. `dx` must be another tensor than `x`, `y` and `dy`.
   */
  backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.inputShape, this.device);
    expectTensor('y', y, this.outputShape, this.device);
    expectTensor('dy', dy, this.outputShape, this.device);
    expectTensor('dx', dx, this.inputShape, this.device);
    for (const [name, other] of [
      ['x', x],
      ['y', y],
      ['dy', dy],
    ] as const) {
      if (dx === other) {
        throw new ArgumentError(`Expected a tensor other than ${name} for dx but received ${name}`);
      }
    }
    const kept = this.kept !== null && this.kept.x === x && this.kept.y === y;
    native.maxPoolBackward(handle, x.handle, y.handle, dy.handle, dx.handle, kept);
  }

  /** Frees the plan now. Idempotent; any later use throws a DisposedError. */
  dispose(): void {
    this.plan.dispose();
  }
}
