/**
 * ReLU, in place: its output overwrites its input, and backward overwrites the incoming gradient.
 * Where the layer before applies it in its forward's epilogue (Conv2d and Linear, fuseRelu), this
 * layer is `fused` and passes its input and gradient through unchanged.
 */
import { reluBackward, reluForward } from '../ops/relu';
import type { Tensor } from '../tensor';
import type { Layer } from './layer';

export class Relu implements Layer {
  readonly params = [];
  trainable = false;
  private output: Tensor | null = null;

  constructor(
    readonly name: string,
    /** Whether the layer before applies the ReLU (and its mask in backward). @default false */
    private readonly fused = false,
  ) {}

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  forward(x: Tensor): Tensor {
    if (this.fused) return x;
    reluForward(x, x);
    this.output = x;
    return x;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    if (this.fused) return dy;
    reluBackward(this.output!, dy, dy);
    return dy;
  }

  dispose(): void {}
}
