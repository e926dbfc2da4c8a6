/**
 * 2-D convolution with groups: a plan built once per shape, then forward, backward-data and
 * backward-filter passes over tensors of exactly the planned shapes. Layouts follow Caffe and
 * cuDNN: x (N, C, H, W), weights (K, C / groups, kh, kw), y (N, K, outH, outW) with
 * outH = floor((H + 2 pad - kh) / stride) + 1. The bias is a separate op (ops/bias.ts), or the
 * forward's epilogue (ops/epilogue.ts) with the ReLU after it.
 */
import { ArgumentError, ShapeError } from '../errors';
import { native } from '../native';
import { checkDevice, type Device, expectTensor, formatShape, type Tensor } from '../tensor';
import { fail, integer } from '../validate';
import { type Epilogue, epilogueArgs } from './epilogue';
import { PlanHandle } from './plan-handle';

export interface ConvShape {
  /** Images per batch (N). */
  batch: number;
  /** Input channels (C). */
  inChannels: number;
  /** Input height (H). */
  height: number;
  /** Input width (W). */
  width: number;
  /** Output channels (K), the number of filters. */
  outChannels: number;
  /** Filter size: one number for square filters, or [height, width]. */
  kernel: number | [number, number];
  /** Step between filter positions: one number, or [vertical, horizontal]. @default 1 */
  stride?: number | [number, number];
  /** Zeros added on each side: one number, or [vertical, horizontal]. @default 0 */
  pad?: number | [number, number];
  /**
   * Channel groups: group g convolves input channels [g C/groups, (g+1) C/groups) into output
   * channels [g K/groups, (g+1) K/groups), as in AlexNet's conv2, conv4 and conv5. @default 1
   */
  groups?: number;
}

/** A number or a [height, width] pair of integers >= min, as a pair. */
function pair(name: string, value: unknown, min: number): [number, number] {
  if (Array.isArray(value)) {
    if (value.length !== 2) fail('[height, width] pair', name, value);
    return [integer(`${name}[0]`, value[0], min), integer(`${name}[1]`, value[1], min)];
  }
  const single = min === 1 ? 'positive integer' : `integer >= ${min}`;
  if (typeof value !== 'number') fail(`${single} or [height, width] pair`, name, value);
  const size = integer(name, value, min);
  return [size, size];
}

export class ConvPlan {
  /** [N, C, H, W] of x and dx. */
  readonly inputShape: readonly number[];
  /** [K, C / groups, kh, kw] of w and dw. */
  readonly weightShape: readonly number[];
  /** [N, K, outH, outW] of y and dy. */
  readonly outputShape: readonly number[];
  readonly device: Device;
  private readonly plan: PlanHandle;

  constructor(shape: ConvShape, device: Device = 'cpu') {
    if (typeof shape !== 'object' || shape === null || Array.isArray(shape)) {
      fail('ConvShape object', 'shape', shape);
    }
    const n = integer('batch', shape.batch, 1);
    const c = integer('inChannels', shape.inChannels, 1);
    const h = integer('height', shape.height, 1);
    const w = integer('width', shape.width, 1);
    const k = integer('outChannels', shape.outChannels, 1);
    const [kh, kw] = pair('kernel', shape.kernel, 1);
    const [strideH, strideW] = pair('stride', shape.stride ?? 1, 1);
    const [padH, padW] = pair('pad', shape.pad ?? 0, 0);
    const groups = integer('groups', shape.groups ?? 1, 1);
    if (c % groups !== 0 || k % groups !== 0) {
      throw new ArgumentError(
        `Expected groups to divide inChannels (${c}) and outChannels (${k}) but received ${groups}`,
      );
    }
    const paddedH = h + 2 * padH;
    const paddedW = w + 2 * padW;
    if (kh > paddedH || kw > paddedW) {
      throw new ShapeError(
        `Expected kernel of at most [${paddedH}, ${paddedW}] (input [${h}, ${w}] with pad ` +
          `[${padH}, ${padW}]) but received [${kh}, ${kw}]`,
      );
    }
    this.device = checkDevice(device);
    const outH = Math.floor((paddedH - kh) / strideH) + 1;
    const outW = Math.floor((paddedW - kw) / strideW) + 1;
    this.inputShape = Object.freeze([n, c, h, w]);
    this.weightShape = Object.freeze([k, c / groups, kh, kw]);
    this.outputShape = Object.freeze([n, k, outH, outW]);
    this.plan = new PlanHandle(
      new native.ConvPlan(n, c, h, w, k, kh, kw, strideH, strideW, padH, padW, groups, this.device),
      () => `ConvPlan ${formatShape(this.inputShape)} -> ${formatShape(this.outputShape)}`,
    );
  }

  /**
   * y = conv(x, w); overwrites y. With an epilogue, y[n, k] += bias[k], then max(y, 0) with
   * relu, bit-identical to biasAdd and reluForward after it.
   */
  forward(x: Tensor, w: Tensor, y: Tensor, epilogue: Epilogue = {}): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.inputShape, this.device);
    expectTensor('w', w, this.weightShape, this.device);
    expectTensor('y', y, this.outputShape, this.device);
    const [bias, relu] = epilogueArgs(epilogue, this.outputShape[1], this.device);
    native.conv2dForward(handle, x.handle, w.handle, y.handle, bias, relu);
  }

  /** dx = the gradient of the loss in x, from dy and the weights; overwrites dx. */
  backwardData(w: Tensor, dy: Tensor, dx: Tensor): void {
    const handle = this.plan.live;
    expectTensor('w', w, this.weightShape, this.device);
    expectTensor('dy', dy, this.outputShape, this.device);
    expectTensor('dx', dx, this.inputShape, this.device);
    native.conv2dBackwardData(handle, w.handle, dy.handle, dx.handle);
  }

  /** dw = the gradient of the loss in w, summed over the batch; overwrites dw. */
  backwardFilter(x: Tensor, dy: Tensor, dw: Tensor): void {
    const handle = this.plan.live;
    expectTensor('x', x, this.inputShape, this.device);
    expectTensor('dy', dy, this.outputShape, this.device);
    expectTensor('dw', dw, this.weightShape, this.device);
    native.conv2dBackwardFilter(handle, x.handle, dy.handle, dw.handle);
  }

  /** Frees the plan now. Idempotent; any later use throws a DisposedError. */
  dispose(): void {
    this.plan.dispose();
  }
}
