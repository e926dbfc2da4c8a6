/** A convolution layer with bias: weights (out, in / groups, k, k) as PyTorch lays them out. */
import { biasAdd, biasBackward } from '../ops/bias';
import { ConvPlan } from '../ops/conv';
import { type Device, Tensor } from '../tensor';
import { outputSize } from './architecture';
import { disposeAll, type Layer, type Param, PerBatch } from './layer';

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
  private readonly buffers: PerBatch<{ plan: ConvPlan; y: Tensor; dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    readonly spec: Conv2dSpec,
    inputShape: readonly number[],
    device: Device,
  ) {
    const { inChannels, outChannels, kernel, groups } = spec;
    const wShape = [outChannels, inChannels / groups, kernel, kernel];
    this.weight = param(`${name}.weight`, wShape, device, true);
    this.bias = param(`${name}.bias`, [outChannels], device, false);
    this.params = [this.weight, this.bias];
    const [, , height, width] = inputShape;
    this.buffers = new PerBatch((batch) => {
      const plan = new ConvPlan(
        {
          batch,
          inChannels,
          height,
          width,
          outChannels,
          kernel,
          stride: spec.stride,
          pad: spec.pad,
          groups,
        },
        device,
      );
      return {
        plan,
        y: Tensor.zeros(plan.outputShape, device),
        dx: Tensor.zeros(plan.inputShape, device),
      };
    });
  }

  outputShape(shape: readonly number[]): number[] {
    const { kernel, stride, pad, outChannels } = this.spec;
    const size = (d: number) => outputSize(d, kernel, stride, pad);
    return [shape[0], outChannels, size(shape[2]), size(shape[3])];
  }

  forward(x: Tensor): Tensor {
    const { plan, y } = this.buffers.get(x.shape[0]);
    plan.forward(x, this.weight.value, y);
    biasAdd(y, this.bias.value);
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const { plan, dx } = this.buffers.get(dy.shape[0]);
    if (this.trainable) {
      plan.backwardFilter(this.input!, dy, this.weight.grad);
      biasBackward(dy, this.bias.grad);
    }
    if (!needInputGrad) return null;
    plan.backwardData(this.weight.value, dy, dx);
    return dx;
  }

  dispose(): void {
    this.buffers.dispose();
    for (const p of this.params) disposeAll({ value: p.value, grad: p.grad });
  }
}

export function param(name: string, shape: number[], device: Device, decay: boolean): Param {
  return { name, value: Tensor.zeros(shape, device), grad: Tensor.zeros(shape, device), decay };
}
