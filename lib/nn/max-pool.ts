/**
 * Overlapping max pooling, 3 x 3 with stride 2 in AlexNet (Krizhevsky et al. 2012, §3.4). Where
 * the LRN layer before runs it in its inference forward (Lrn.fusePool), this layer is `fused`
 * and passes an inference forward's input through.
 */
import { type MaxPoolOptions, MaxPoolPlan } from '../ops/pool';
import type { Device, Tensor } from '../tensor';
import { outputSize } from './architecture';
import type { StepContext } from './layer';
import { PlannedLayer } from './planned-layer';

export class MaxPool extends PlannedLayer<MaxPoolPlan> {
  constructor(
    name: string,
    private readonly options: Required<MaxPoolOptions>,
    inputShape: readonly number[],
    device: Device,
    /** Whether the LRN layer before pools in inference forwards. @default false */
    private readonly fused = false,
  ) {
    super(name, inputShape, device);
  }

  protected createPlan(shape: number[], device: Device): MaxPoolPlan {
    return new MaxPoolPlan(shape, this.options, device);
  }

  outputShape(shape: readonly number[]): number[] {
    const { kernel, stride, pad } = this.options;
    const size = (d: number) => outputSize(d, kernel, stride, pad);
    return [shape[0], shape[1], size(shape[2]), size(shape[3])];
  }

  override forward(x: Tensor, context?: StepContext): Tensor {
    if (this.fused && context?.training === false) return x;
    return super.forward(x);
  }
}
