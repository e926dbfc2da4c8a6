/** Overlapping max pooling, 3 x 3 with stride 2 in AlexNet (Krizhevsky et al. 2012, §3.4). */
import { type MaxPoolOptions, MaxPoolPlan } from '../ops/pool';
import { type Device, Tensor } from '../tensor';
import { type Layer, PerBatch } from './layer';

export class MaxPool implements Layer {
  readonly params = [];
  trainable = false;
  private readonly buffers: PerBatch<{ plan: MaxPoolPlan; y: Tensor; dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    private readonly options: Required<MaxPoolOptions>,
    inputShape: readonly number[],
    device: Device,
  ) {
    this.buffers = new PerBatch((batch) => {
      const plan = new MaxPoolPlan([batch, ...inputShape.slice(1)], options, device);
      const y = Tensor.zeros(plan.outputShape, device);
      const dx = Tensor.zeros(plan.inputShape, device);
      return { plan, y, dx };
    });
  }

  outputShape(shape: readonly number[]): number[] {
    const { kernel, stride, pad } = this.options;
    const size = (d: number) => Math.floor((d + 2 * pad - kernel) / stride) + 1;
    return [shape[0], shape[1], size(shape[2]), size(shape[3])];
  }

  forward(x: Tensor): Tensor {
    const { plan, y } = this.buffers.get(x.shape[0]);
    plan.forward(x, y);
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const { plan, y, dx } = this.buffers.get(dy.shape[0]);
    plan.backward(this.input!, y, dy, dx);
    return dx;
  }

  dispose(): void {
    this.buffers.dispose();
  }
}
