/**
 * Inverted dropout (Srivastava et al. 2014): active in training only, identity in evaluation.
 * The mask is a function of (seed, step, layer index, element), so backward recomputes it and
 * a resumed run draws the same masks.
 */

import { BatchBuffers } from '../batch-buffers';
import { type DropoutKey, dropoutBackward, dropoutForward } from '../ops/dropout';
import { type Device, Tensor } from '../tensor';
import type { Layer, StepContext } from './layer';

export class Dropout implements Layer {
  readonly params = [];
  trainable = false;
  private readonly outputs: BatchBuffers<{ y: Tensor }>;
  private readonly inputGrads: BatchBuffers<{ dx: Tensor }>;
  private key: DropoutKey | null = null;

  constructor(
    readonly name: string,
    private readonly p: number,
    private readonly layerIndex: number,
    inputShape: readonly number[],
    device: Device,
  ) {
    const zeros = (batch: number) => Tensor.zeros([batch, ...inputShape.slice(1)], device);
    this.outputs = new BatchBuffers((batch) => ({ y: zeros(batch) }));
    this.inputGrads = new BatchBuffers((batch) => ({ dx: zeros(batch) }));
  }

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  forward(x: Tensor, context: StepContext): Tensor {
    if (!context.training || this.p === 0) {
      this.key = null;
      return x;
    }
    const { y } = this.outputs.get(x.shape[0]);
    const rowSize = x.size / x.shape[0];
    this.key = {
      p: this.p,
      seed: context.seed,
      step: context.step,
      layer: this.layerIndex,
      offset: (context.sampleOffset ?? 0) * rowSize,
    };
    dropoutForward(x, y, this.key);
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    if (!this.key) return dy;
    const { dx } = this.inputGrads.get(dy.shape[0]);
    dropoutBackward(dy, dx, this.key);
    return dx;
  }

  dispose(): void {
    this.outputs.dispose();
    this.inputGrads.dispose();
  }
}
