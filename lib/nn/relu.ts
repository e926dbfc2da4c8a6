/** ReLU, in place: its output overwrites its input, and backward overwrites the incoming gradient. */
import { reluBackward, reluForward } from '../ops/relu';
import type { Tensor } from '../tensor';
import type { Layer } from './layer';

export class Relu implements Layer {
  readonly params = [];
  trainable = false;
  private output: Tensor | null = null;

  constructor(readonly name: string) {}

  outputShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  forward(x: Tensor): Tensor {
    reluForward(x, x);
    this.output = x;
    return x;
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    reluBackward(this.output!, dy, dy);
    return dy;
  }

  dispose(): void {}
}
