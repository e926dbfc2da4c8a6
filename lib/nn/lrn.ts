/** Local response normalisation across channels (Krizhevsky et al. 2012, §3.3). */
import { BatchBuffers } from '../batch-buffers';
import { type LrnOptions, LrnPlan } from '../ops/lrn';
import { PlanCache } from '../ops/plan-cache';
import { type MaxPoolOptions, MaxPoolPlan } from '../ops/pool';
import { type Device, Tensor } from '../tensor';
import type { StepContext } from './layer';
import { PlannedLayer } from './planned-layer';

/** The max pooling an LRN layer runs in its inference forward (Lrn.fusePool). */
interface FusedPool {
  plans: PlanCache<MaxPoolPlan>;
  outputs: BatchBuffers<{ y: Tensor }>;
}

export class Lrn extends PlannedLayer<LrnPlan> {
  private pool: FusedPool | null = null;

  constructor(
    name: string,
    private readonly options: LrnOptions,
    private readonly inputShape: readonly number[],
    private readonly device: Device,
  ) {
    super(name, inputShape, device);
  }

  protected createPlan(shape: number[], device: Device): LrnPlan {
    return new LrnPlan(shape, this.options, device);
  }

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  /**
   * Runs the max pooling after this layer in this layer's inference forward, on the CPU
   * (LrnPlan.forwardPooled: the same bits, without writing the LRN's output out); that layer
   * then passes through (MaxPool's `fused`). A training forward runs both, as the backward needs
   * the LRN's output.
   */
  fusePool(options: Required<MaxPoolOptions>): void {
    const shapeOf = (batch: number) => [batch, ...this.inputShape.slice(1)];
    const plans = new PlanCache((batch) => new MaxPoolPlan(shapeOf(batch), options, this.device));
    const outputs = new BatchBuffers((batch) => ({
      y: Tensor.zeros(plans.get(batch).outputShape, this.device),
    }));
    this.pool = { plans, outputs };
  }

  override forward(x: Tensor, context?: StepContext): Tensor {
    if (!this.pool || context?.training !== false) return super.forward(x);
    const batch = x.shape[0];
    const { y } = this.pool.outputs.get(batch);
    this.plans.get(batch).forwardPooled(x, this.pool.plans.get(batch), y);
    return y;
  }

  override dispose(): void {
    super.dispose();
    this.pool?.plans.dispose();
    this.pool?.outputs.dispose();
  }
}
