/**
 * Stochastic gradient descent with momentum and weight decay, the paper's optimiser (§5), in
 * PyTorch's form (torch.optim.SGD: v = m v + (g + wd w); w -= lr v), which equals the paper's
 * for a constant learning rate. Weight decay applies to weights, not biases (Caffe's
 * convention: bvlc_alexnet's solver sets decay_mult 0 on biases).
 */
import type { Param } from '../nn/layer';
import { sgdUpdate } from '../ops/sgd';
import { Tensor } from '../tensor';
import { finiteNumber } from '../validate';
import type { Optimizer, OptimizerKind } from './optimizer';

export interface SgdOptions {
  /** Learning rate. @default 0.01 */
  lr?: number;
  /** @default 0.9 */
  momentum?: number;
  /** L2 penalty on weights (not biases). @default 5e-4 */
  weightDecay?: number;
}

export class SGD implements Optimizer {
  readonly kind: OptimizerKind = 'sgd';
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  private readonly params: Param[];
  private readonly velocity = new Map<string, Tensor>();

  /**
   * `model`: what to update, a model's `trainableParameters()` or the list itself (as
   * torch.optim.SGD takes its parameters).
   */
  constructor(
    model: { trainableParameters(): Param[] } | readonly Param[],
    options: SgdOptions = {},
  ) {
    this.lr = finiteNumber('lr', options.lr ?? 0.01, 0);
    this.momentum = finiteNumber('momentum', options.momentum ?? 0.9, 0, 1);
    this.weightDecay = finiteNumber('weightDecay', options.weightDecay ?? 5e-4, 0);
    this.params = 'trainableParameters' in model ? model.trainableParameters() : [...model];
    for (const p of this.params)
      this.velocity.set(p.name, Tensor.zeros(p.value.shape, p.value.device));
  }

  /**
   * Queues one update of every trainable parameter from its current gradient; with a `guard`
   * tensor, the update is skipped unless its first element (the batch's loss) is finite.
   */
  step(options: { guard?: Tensor } = {}): void {
    for (const p of this.params) {
      sgdUpdate(p.value, p.grad, this.velocity.get(p.name)!, {
        lr: this.lr,
        momentum: this.momentum,
        weightDecay: p.decay ? this.weightDecay : 0,
        guard: options.guard,
      });
    }
  }

  /** The momentum buffers by parameter name. */
  buffers(): ReadonlyMap<string, Tensor> {
    return this.velocity;
  }

  /** The momentum buffers as `momentum.<parameter name>`, for checkpoints. */
  state(): ReadonlyMap<string, Tensor> {
    return new Map([...this.velocity].map(([name, t]) => [`momentum.${name}`, t]));
  }

  dispose(): void {
    for (const t of this.velocity.values()) t.dispose();
  }
}
