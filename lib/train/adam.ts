/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as torch.optim.Adam and
 * torch.optim.AdamW with amsgrad off: the tutorial fine-tunes fc6-fc8 with Adam at lr 0.001.
 * PyTorch's defaults: lr 0.001, betas (0.9, 0.999), eps 1e-8, weight decay 0 for Adam and 0.01
 * for AdamW. As SGD does (sgd.ts), weight decay applies to weights, not biases.
 */
import type { Param } from '../nn/layer';
import { adamUpdate } from '../ops/adam';
import { Tensor } from '../tensor';
import { fail, finiteNumber } from '../validate';
import type { Optimizer, OptimizerKind } from './optimizer';

export interface AdamOptions {
  /** Learning rate. @default 0.001 */
  lr?: number;
  /** Decays of the first and second moments, each in [0, 1). @default [0.9, 0.999] */
  betas?: readonly [number, number];
  /** Added to the denominator. @default 1e-8 */
  eps?: number;
  /** On weights (not biases): L2 in the gradient for Adam, decoupled for AdamW. @default 0 (Adam), 0.01 (AdamW) */
  weightDecay?: number;
}

/** A parameter's state under PyTorch's names. */
interface AdamState {
  exp_avg: Tensor;
  exp_avg_sq: Tensor;
  /** One element: the steps taken, on the parameter's device so a guarded step can skip it. */
  step: Tensor;
}

export class Adam implements Optimizer {
  readonly kind: OptimizerKind = 'adam';
  lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly params: Param[];
  private readonly moments = new Map<string, AdamState>();

  /**
   * `model`: what to update, a model's `trainableParameters()` or the list itself (as
   * torch.optim.Adam takes its parameters).
   */
  constructor(
    model: { trainableParameters(): Param[] } | readonly Param[],
    options: AdamOptions = {},
  ) {
    this.lr = finiteNumber('lr', options.lr ?? 0.001, 0);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) fail('array of two numbers', 'betas', betas);
    this.betas = [betaIn('betas[0]', betas[0]), betaIn('betas[1]', betas[1])];
    this.eps = finiteNumber('eps', options.eps ?? 1e-8, 0);
    this.weightDecay = finiteNumber('weightDecay', options.weightDecay ?? this.defaultDecay(), 0);
    this.params = 'trainableParameters' in model ? model.trainableParameters() : [...model];
    for (const p of this.params) {
      const { shape, device } = p.value;
      this.moments.set(p.name, {
        exp_avg: Tensor.zeros(shape, device),
        exp_avg_sq: Tensor.zeros(shape, device),
        step: Tensor.zeros([1], device),
      });
    }
  }

  /** Adam's default weight decay; AdamW overrides it. */
  protected defaultDecay(): number {
    return 0;
  }

  /** Whether weight decay is decoupled from the gradient (AdamW). */
  protected get decoupled(): boolean {
    return false;
  }

  step(options: { guard?: Tensor } = {}): void {
    for (const p of this.params) {
      const s = this.moments.get(p.name)!;
      adamUpdate(p.value, p.grad, s.exp_avg, s.exp_avg_sq, s.step, {
        lr: this.lr,
        beta1: this.betas[0],
        beta2: this.betas[1],
        eps: this.eps,
        weightDecay: p.decay ? this.weightDecay : 0,
        decoupled: this.decoupled,
        guard: options.guard,
      });
    }
  }

  state(): ReadonlyMap<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, s] of this.moments) {
      out.set(`exp_avg.${name}`, s.exp_avg);
      out.set(`exp_avg_sq.${name}`, s.exp_avg_sq);
      out.set(`step.${name}`, s.step);
    }
    return out;
  }

  dispose(): void {
    for (const s of this.moments.values()) {
      s.exp_avg.dispose();
      s.exp_avg_sq.dispose();
      s.step.dispose();
    }
  }
}

/** AdamW: Adam with decoupled weight decay, `w *= 1 - lr * weightDecay` before the step. */
export class AdamW extends Adam {
  override readonly kind: OptimizerKind = 'adamw';

  protected override defaultDecay(): number {
    return 0.01;
  }

  protected override get decoupled(): boolean {
    return true;
  }
}

/** A moment's decay: 1 would divide by a zero bias correction. */
function betaIn(name: string, value: unknown): number {
  const b = finiteNumber(name, value, 0, 1);
  if (b === 1) fail('number >= 0 and below 1', name, value);
  return b;
}
