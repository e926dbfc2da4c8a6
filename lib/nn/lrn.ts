/** Local response normalisation across channels (Krizhevsky et al. 2012, §3.3). */
import { type LrnOptions, LrnPlan } from '../ops/lrn';
import type { Device } from '../tensor';
import { PlannedLayer } from './planned-layer';

export class Lrn extends PlannedLayer<LrnPlan> {
  constructor(
    name: string,
    private readonly options: LrnOptions,
    inputShape: readonly number[],
    device: Device,
  ) {
    super(name, inputShape, device);
  }

  protected createPlan(shape: number[], device: Device): LrnPlan {
    return new LrnPlan(shape, this.options, device);
  }

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }
}
