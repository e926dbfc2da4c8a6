/** Overlapping max pooling, 3 x 3 with stride 2 in AlexNet (Krizhevsky et al. 2012, §3.4). */
import { type MaxPoolOptions, MaxPoolPlan } from '../ops/pool';
import type { Device } from '../tensor';
import { outputSize } from './architecture';
import { PlannedLayer } from './planned-layer';

export class MaxPool extends PlannedLayer<MaxPoolPlan> {
  constructor(
    name: string,
    private readonly options: Required<MaxPoolOptions>,
    inputShape: readonly number[],
    device: Device,
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
}
