/**
 * A fully connected layer: y = x Wᵀ + b with W of shape (out, in), PyTorch's layout. The input
 * may be 4-D (fc6 reads pool5's (n, c, h, w) output): it is flattened in C, H, W order, which
 * is how NCHW memory already lies.
 */
import { biasAdd, biasBackward } from '../ops/bias';
import { gemm } from '../ops/gemm';
import { type Device, Tensor } from '../tensor';
import { BatchBuffers, type Layer, Param } from './layer';

export class Linear implements Layer {
  readonly params: readonly Param[];
  trainable = true;
  readonly weight: Param;
  readonly bias: Param;
  private readonly outputs: BatchBuffers<{ y: Tensor }>;
  private readonly inputGrads: BatchBuffers<{ dx: Tensor }>;
  private input: Tensor | null = null;

  constructor(
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    inputShape: readonly number[],
    device: Device,
    /** The parameters' state_dict prefix. @default name */
    stateName = name,
  ) {
    this.weight = new Param(`${stateName}.weight`, [outFeatures, inFeatures], device, true, name);
    this.bias = new Param(`${stateName}.bias`, [outFeatures], device, false, name);
    this.params = [this.weight, this.bias];
    this.outputs = new BatchBuffers((batch) => ({ y: Tensor.zeros([batch, outFeatures], device) }));
    this.inputGrads = new BatchBuffers((batch) => ({
      dx: Tensor.zeros([batch, ...inputShape.slice(1)], device),
    }));
  }

  outputShape(shape: readonly number[]): number[] {
    return [shape[0], this.outFeatures];
  }

  forward(x: Tensor): Tensor {
    const { y } = this.outputs.get(x.shape[0]);
    gemm(x, this.weight.value, y, { transB: true });
    biasAdd(y, this.bias.value);
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.trainable) {
      gemm(dy, this.input!, this.weight.grad, { transA: true });
      biasBackward(dy, this.bias.grad);
    }
    if (!needInputGrad) return null;
    const { dx } = this.inputGrads.get(dy.shape[0]);
    gemm(dy, this.weight.value, dx);
    return dx;
  }

  dispose(): void {
    this.outputs.dispose();
    this.inputGrads.dispose();
    for (const p of this.params) p.dispose();
  }
}
