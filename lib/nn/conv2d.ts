/** A convolution layer with bias: weights (out, in / groups, k, k) as PyTorch lays them out. */
import { BatchBuffers } from '../batch-buffers';
import { biasBackward, reluBiasBackward } from '../ops/bias';
import { ConvPlan } from '../ops/conv';
import { PlanCache } from '../ops/plan-cache';
import { type Device, Tensor } from '../tensor';
import { outputSize } from './architecture';
import { type Layer, Param } from './layer';

export interface Conv2dSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: number;
  groups: number;
}

export class Conv2d implements Layer {
  readonly params: readonly Param[];
  trainable = true;
  readonly weight: Param;
  readonly bias: Param;
  private readonly plans: PlanCache<ConvPlan>;
  private readonly outputs: BatchBuffers<{ y: Tensor }>;
  private readonly inputGrads: BatchBuffers<{ dx: Tensor }>;
  private input: Tensor | null = null;
  /** Whether the forward's epilogue applies the ReLU that follows (fuseRelu). */
  private relu = false;

  constructor(
    readonly name: string,
    readonly spec: Conv2dSpec,
    inputShape: readonly number[],
    device: Device,
    /** The parameters' state_dict prefix. @default name */
    stateName = name,
  ) {
    const { inChannels, outChannels, kernel, stride, pad, groups } = spec;
    const wShape = [outChannels, inChannels / groups, kernel, kernel];
    this.weight = new Param(`${stateName}.weight`, wShape, device, true, name);
    this.bias = new Param(`${stateName}.bias`, [outChannels], device, false, name);
    this.params = [this.weight, this.bias];
    const [, , height, width] = inputShape;
    this.plans = new PlanCache(
      (batch) =>
        new ConvPlan(
          { batch, inChannels, height, width, outChannels, kernel, stride, pad, groups },
          device,
        ),
    );
    this.outputs = new BatchBuffers((batch) => ({
      y: Tensor.zeros(this.outputShape([batch, ...inputShape.slice(1)]), device),
    }));
    this.inputGrads = new BatchBuffers((batch) => ({
      dx: Tensor.zeros([batch, ...inputShape.slice(1)], device),
    }));
  }

  outputShape(shape: readonly number[]): number[] {
    const { kernel, stride, pad, outChannels } = this.spec;
    const size = (d: number) => outputSize(d, kernel, stride, pad);
    return [shape[0], outChannels, size(shape[2]), size(shape[3])];
  }

  /** Applies the ReLU after this layer in the forward's epilogue (its Relu layer then passes through). */
  fuseRelu(): void {
    this.relu = true;
  }

  forward(x: Tensor): Tensor {
    const batch = x.shape[0];
    const { y } = this.outputs.get(batch);
    this.plans
      .get(batch)
      .forward(x, this.weight.value, y, { bias: this.bias.value, relu: this.relu });
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const batch = dy.shape[0];
    const plan = this.plans.get(batch);
    if (this.relu && (this.trainable || needInputGrad)) {
      const db = this.trainable ? this.bias.grad : undefined;
      reluBiasBackward(this.outputs.get(batch).y, dy, db);
    } else if (this.trainable) {
      biasBackward(dy, this.bias.grad);
    }
    if (this.trainable) plan.backwardFilter(this.input!, dy, this.weight.grad);
    if (!needInputGrad) return null;
    const { dx } = this.inputGrads.get(batch);
    plan.backwardData(this.weight.value, dy, dx);
    return dx;
  }

  dispose(): void {
    this.plans.dispose();
    this.outputs.dispose();
    this.inputGrads.dispose();
    for (const p of this.params) p.dispose();
  }
}
