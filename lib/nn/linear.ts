/**
 * A fully connected layer: y = x Wᵀ + b with W of shape (out, in), PyTorch's layout. The input
 * may be 4-D (fc6 reads pool5's (n, c, h, w) output): it is flattened in C, H, W order, which
 * is how NCHW memory already lies.
 */
import { BatchBuffers } from '../batch-buffers';
import { biasBackward, reluBiasBackward } from '../ops/bias';
import { gemm } from '../ops/gemm';
import { PackedWeights } from '../ops/packed-weights';
import { type Device, Tensor } from '../tensor';
import { type Layer, Param, type StepContext } from './layer';

export class Linear implements Layer {
  readonly params: readonly Param[];
  trainable = true;
  readonly weight: Param;
  readonly bias: Param;
  private readonly outputs: BatchBuffers<{ y: Tensor }>;
  private readonly inputGrads: BatchBuffers<{ dx: Tensor }>;
  private input: Tensor | null = null;
  /** Whether the forward's epilogue applies the ReLU that follows (fuseRelu). */
  private relu = false;
  /** The weights packed for inference, once per change; released by a training forward. */
  private readonly packed: PackedWeights;

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
    this.packed = new PackedWeights(device);
    this.outputs = new BatchBuffers((batch) => ({ y: Tensor.zeros([batch, outFeatures], device) }));
    this.inputGrads = new BatchBuffers((batch) => ({
      dx: Tensor.zeros([batch, ...inputShape.slice(1)], device),
    }));
  }

  outputShape(shape: readonly number[]): number[] {
    return [shape[0], this.outFeatures];
  }

  /** Applies the ReLU after this layer in the forward's epilogue (its Relu layer then passes through). */
  fuseRelu(): void {
    this.relu = true;
  }

  forward(x: Tensor, context?: StepContext): Tensor {
    const { y } = this.outputs.get(x.shape[0]);
    const epilogue = { bias: this.bias.value, relu: this.relu };
    if (context?.training === false) {
      this.packed.multiply(x, this.weight.value, y, epilogue);
    } else {
      // Training changes the weights every step: a kept copy would only add their size.
      this.packed.release();
      gemm(x, this.weight.value, y, { transB: true, epilogue });
    }
    this.input = x;
    return y;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.relu && (this.trainable || needInputGrad)) {
      const db = this.trainable ? this.bias.grad : undefined;
      reluBiasBackward(this.outputs.get(dy.shape[0]).y, dy, db);
    } else if (this.trainable) {
      biasBackward(dy, this.bias.grad);
    }
    if (this.trainable) gemm(dy, this.input!, this.weight.grad, { transA: true });
    if (!needInputGrad) return null;
    const { dx } = this.inputGrads.get(dy.shape[0]);
    gemm(dy, this.weight.value, dx);
    return dx;
  }

  dispose(): void {
    this.packed.dispose();
    this.outputs.dispose();
    this.inputGrads.dispose();
    for (const p of this.params) p.dispose();
  }
}
