/**
 * One step of Adam (Kingma & Ba 2015, Algorithm 1) or AdamW (Loshchilov & Hutter 2019), in the
 * form of PyTorch's torch.optim.Adam / torch.optim.AdamW with amsgrad off: bias-corrected first and
 * second moments, with weight decay either added to the gradient as an L2 term (Adam) or applied
 * to the weights directly as `w *= 1 - lr * weightDecay` (AdamW, `decoupled`). PyTorch's defaults:
 * lr 0.001, betas (0.9, 0.999), eps 1e-8. The formulas are in native/cpu/adam.h.
 */
import { native } from '../native';
import { expectTensor, type Tensor } from '../tensor';
import { boolean, fail, finiteNumber } from '../validate';

/** The hyper-parameters of one update. */
export interface AdamStep {
  /** Learning rate, >= 0. */
  lr: number;
  /** Decay of the first moment, in [0, 1). @default 0.9 */
  beta1?: number;
  /** Decay of the second moment, in [0, 1). @default 0.999 */
  beta2?: number;
  /** Added to the denominator's square root, >= 0. @default 1e-8 */
  eps?: number;
  /** Weight decay, >= 0: an L2 term in the gradient, or decoupled when `decoupled`. @default 0 */
  weightDecay?: number;
  /** AdamW's decoupled weight decay instead of Adam's L2 term. @default false */
  decoupled?: boolean;
  /**
   * When given, nothing changes (weights, moments, step count) unless this tensor's first element
   * is finite: the batch's loss, so that a diverged step changes nothing without the loss being
   * read first.
   */
  guard?: Tensor;
}

/** Below 1: a beta of 1 would divide by a zero bias correction. */
function beta(name: string, value: unknown): number {
  const b = finiteNumber(name, value, 0, 1);
  if (b === 1) fail('number >= 0 and below 1', name, value);
  return b;
}

/**
 * Updates `param`, `expAvg`, `expAvgSq` (the moments, shaped as `param`) and `step` (one element:
 * the steps taken so far) in place from `grad`. Zero the moments and the step before the first
 * update.
 */
export function adamUpdate(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  stepCount: Tensor,
  step: AdamStep,
): void {
  expectTensor('param', param);
  expectTensor('grad', grad, param.shape, param.device);
  expectTensor('expAvg', expAvg, param.shape, param.device);
  expectTensor('expAvgSq', expAvgSq, param.shape, param.device);
  expectTensor('stepCount', stepCount, [1], param.device);
  if (typeof step !== 'object' || step === null) fail('object', 'step', step);
  const lr = finiteNumber('lr', step.lr, 0);
  const beta1 = beta('beta1', step.beta1 ?? 0.9);
  const beta2 = beta('beta2', step.beta2 ?? 0.999);
  const eps = finiteNumber('eps', step.eps ?? 1e-8, 0);
  const weightDecay = finiteNumber('weightDecay', step.weightDecay ?? 0, 0);
  const decoupled = boolean('decoupled', step.decoupled ?? false);
  if (step.guard !== undefined) expectTensor('guard', step.guard, undefined, param.device);
  native.adamUpdate(
    param.handle,
    grad.handle,
    expAvg.handle,
    expAvgSq.handle,
    stepCount.handle,
    lr,
    beta1,
    beta2,
    eps,
    weightDecay,
    decoupled,
    step.guard?.handle,
  );
}
