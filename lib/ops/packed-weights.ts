/**
 * A fully connected layer's weights packed once per change for its inference forward, y = x wᵀ
 * (then the epilogue), instead of once per call: the GEMM packs its B operand on every call
 * (native/cpu/gemm.h), and fc6's is 151 MB. The native side records which buffer and which
 * version of it (native/core/tensor.h: every op that may write a tensor counts as a write) the
 * copy was made from, and packs again before the first call after any change, so a call always
 * reads the weights as they are. Calls of at most 32 rows read the weights in place and leave the
 * copy alone; on a CUDA device each call is the plain GEMM.
 *
 * The copy is as large as the weights: a layer keeps one only while it infers, and `release`
 * frees it (lib/nn/linear.ts does at each training forward, so training holds none).
 */
import { DisposedError, ShapeError } from '../errors';
import { type NativePlan, native } from '../native';
import { checkDevice, type Device, expectTensor, formatShape, type Tensor } from '../tensor';
import { type Epilogue, epilogueArgs } from './epilogue';

export class PackedWeights {
  readonly device: Device;
  private readonly handle: NativePlan;
  private disposed = false;

  constructor(device: Device = 'cpu') {
    this.device = checkDevice(device);
    this.handle = new native.PackedWeights(this.device);
  }

  /**
   * y = x wᵀ, then the epilogue (bias per column of y, ReLU): the same bits as
   * `gemm(x, w, y, { transB: true, epilogue })`. x is (m, k) (or (m, ...) of k per row), w is
   * (n, k) and y is (m, n).
   */
  multiply(x: Tensor, w: Tensor, y: Tensor, epilogue: Epilogue = {}): void {
    if (this.disposed) throw new DisposedError('PackedWeights has been disposed');
    expectTensor('w', w, undefined, this.device);
    if (w.shape.length !== 2) expectTensor('w', w, [-1, -1]);
    const [n, k] = w.shape;
    expectTensor('x', x, undefined, this.device);
    const m = x.shape[0];
    if (x.size !== m * k) {
      throw new ShapeError(
        `Expected x of ${k} values per row (w is ${formatShape(w.shape)}) but received ${formatShape(x.shape)}`,
      );
    }
    expectTensor('y', y, [m, n], this.device);
    const [bias, relu] = epilogueArgs(epilogue, n, this.device);
    native.gemmPackedWeights(this.handle, x.handle, w.handle, y.handle, m, n, k, bias, relu);
  }

  /** Frees the packed copy (after the ops queued before); the next call packs the weights again. */
  release(): void {
    if (!this.disposed) native.packedWeightsRelease(this.handle);
  }

  /** Frees the copy and the handle. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.handle.dispose();
    this.disposed = true;
  }
}
