/** Local response normalisation across channels (Krizhevsky et al. 2012, §3.3). */
import { type LrnOptions, LrnPlan } from '../ops/lrn';
import { type Device, Tensor } from '../tensor';
import { type Layer, PerBatch } from './layer';

export class Lrn implements Layer {
  readonly params = [];
  trainable = false;
  private readonly buffers: PerBatch<{ plan: LrnPlan; y: Tensor; dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    options: LrnOptions,
    inputShape: readonly number[],
    device: Device,
  ) {
    this.buffers = new PerBatch((batch) => {
      const shape = [batch, ...inputShape.slice(1)];
      const plan = new LrnPlan(shape, options, device);
      const y = Tensor.zeros(shape, device);
      const dx = Tensor.zeros(shape, device);
      return { plan, y, dx };
    });
  }

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
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
