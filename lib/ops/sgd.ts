/**
 * One step of SGD with momentum and L2 weight decay, in PyTorch's torch.optim.SGD form
 * (dampening 0, no Nesterov): `g' = g + weightDecay * w; v = momentum * v + g'; w -= lr * v`.
 * The paper's defaults (Krizhevsky et al. 2012 §5) are momentum 0.9 and weight decay 5e-4.
 */
import { native } from '../native';
import { expectTensor, type Tensor } from '../tensor';
import { fail, finiteNumber } from '../validate';

/** The hyper-parameters of one update. */
export interface SgdStep {
  /** Learning rate, >= 0. */
  lr: number;
  /** Weight of the previous velocity, in [0, 1]. @default 0.9 */
  momentum?: number;
  /** L2 penalty added to the gradient as weightDecay * param, >= 0. @default 0 */
  weightDecay?: number;
  /**
   * When given, the update is skipped unless this tensor's first element is finite: the batch's
   * loss, so that a diverged step changes nothing without the loss being read first.
   */
  guard?: Tensor;
}

/**
 * Updates `param` and `velocity` in place from `grad`; all three have the same shape. Zero the
 * velocity before the first step.
 */
export function sgdUpdate(param: Tensor, grad: Tensor, velocity: Tensor, step: SgdStep): void {
  expectTensor('param', param);
  expectTensor('grad', grad, param.shape, param.device);
  expectTensor('velocity', velocity, param.shape, param.device);
  if (typeof step !== 'object' || step === null) fail('object', 'step', step);
  const lr = finiteNumber('lr', step.lr, 0);
  const momentum = finiteNumber('momentum', step.momentum ?? 0.9, 0, 1);
  const weightDecay = finiteNumber('weightDecay', step.weightDecay ?? 0, 0);
  if (step.guard !== undefined) expectTensor('guard', step.guard, undefined, param.device);
  native.sgdUpdate(
    param.handle,
    grad.handle,
    velocity.handle,
    lr,
    momentum,
    weightDecay,
    step.guard?.handle,
  );
}
