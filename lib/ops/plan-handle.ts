/**
 * The native side of a ConvPlan, LrnPlan or MaxPoolPlan: owned by the plan, freed by its
 * `dispose()` (on a CUDA device, the cuDNN descriptors; GC cannot see them, so disposal is
 * explicit), and refused by name once freed.
 */
import { DisposedError } from '../errors';
import type { NativePlan } from '../native';

export class PlanHandle {
  private isDisposed = false;

  constructor(
    private readonly handle: NativePlan,
    /** The plan as error messages name it, e.g. `LrnPlan [2, 96, 55, 55]`. */
    private readonly describe: () => string,
  ) {}

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** The native plan; a DisposedError naming the plan once it has been freed. */
  get live(): NativePlan {
    if (this.isDisposed) throw new DisposedError(`${this.describe()} has been disposed`);
    return this.handle;
  }

  /** Frees the native plan now. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.handle.dispose();
    this.isDisposed = true;
  }
}
