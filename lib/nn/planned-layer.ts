/**
 * A parameterless layer run by a per-shape plan with cuDNN's calling convention, forward(x, y)
 * and backward(x, y, dy, dx): LRN and max pooling. Subclasses say how to build the plan for a
 * batch size and what shape comes out.
 */
import type { Device } from '../tensor';
import { Tensor } from '../tensor';
import { type Layer, PerBatch } from './layer';

export interface LayerPlan {
  forward(x: Tensor, y: Tensor): void;
  backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void;
  dispose(): void;
}

export abstract class PlannedLayer<P extends LayerPlan> implements Layer {
  readonly params = [];
  trainable = false;
  private readonly buffers: PerBatch<{ plan: P; y: Tensor; dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    inputShape: readonly number[],
    device: Device,
  ) {
    this.buffers = new PerBatch((batch) => {
      const shape = [batch, ...inputShape.slice(1)];
      return {
        plan: this.createPlan(shape, device),
        y: Tensor.zeros(this.outputShape(shape), device),
        dx: Tensor.zeros(shape, device),
      };
    });
  }

  /** The plan for an input of `shape` (batch size included). */
  protected abstract createPlan(shape: number[], device: Device): P;

  abstract outputShape(shape: readonly number[]): number[];

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
