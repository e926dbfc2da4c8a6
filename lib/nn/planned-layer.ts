/**
 * A parameterless layer run by a per-shape plan with cuDNN's calling convention, forward(x, y)
 * and backward(x, y, dy, dx): LRN and max pooling. Subclasses say how to build the plan for a
 * batch size and what shape comes out.
 */

import { BatchBuffers } from '../batch-buffers';
import { PlanCache } from '../ops/plan-cache';
import type { Device } from '../tensor';
import { Tensor } from '../tensor';
import type { Layer } from './layer';

export interface LayerPlan {
  forward(x: Tensor, y: Tensor): void;
  backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void;
  dispose(): void;
}

export abstract class PlannedLayer<P extends LayerPlan> implements Layer {
  readonly params = [];
  trainable = false;
  protected readonly plans: PlanCache<P>;
  private readonly outputs: BatchBuffers<{ y: Tensor }>;
  private readonly inputGrads: BatchBuffers<{ dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    inputShape: readonly number[],
    device: Device,
  ) {
    const shapeOf = (batch: number) => [batch, ...inputShape.slice(1)];
    this.plans = new PlanCache((batch) => this.createPlan(shapeOf(batch), device));
    this.outputs = new BatchBuffers((batch) => ({
      y: Tensor.zeros(this.outputShape(shapeOf(batch)), device),
    }));
    this.inputGrads = new BatchBuffers((batch) => ({ dx: Tensor.zeros(shapeOf(batch), device) }));
  }

  /** The plan for an input of `shape` (batch size included). */
  protected abstract createPlan(shape: number[], device: Device): P;

  abstract outputShape(shape: readonly number[]): number[];

  forward(x: Tensor): Tensor {
    const { y } = this.outputs.get(x.shape[0]);
    this.plans.get(x.shape[0]).forward(x, y);
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const batch = dy.shape[0];
    const { y } = this.outputs.get(batch);
    const { dx } = this.inputGrads.get(batch);
    this.plans.get(batch).backward(this.input!, y, dy, dx);
    return dx;
  }

  dispose(): void {
    this.plans.dispose();
    this.outputs.dispose();
    this.inputGrads.dispose();
  }
}
