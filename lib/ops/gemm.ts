/**
 * General matrix multiply over tensors seen as row-major matrices:
 * `c = alpha * op(a) * op(b) + beta * c`, where op transposes when asked.
 * Fully connected layers use it for the forward pass and both gradients.
 */
import { ShapeError } from '../errors';
import { native } from '../native';
import { expectTensor, formatShape, type Tensor } from '../tensor';
import { boolean, finiteNumber } from '../validate';
import { type Epilogue, epilogueArgs } from './epilogue';

export interface GemmOptions {
  /** Use the transpose of `a`. @default false */
  transA?: boolean;
  /** Use the transpose of `b`. @default false */
  transB?: boolean;
  /** @default 1 */
  alpha?: number;
  /** Weight of the existing contents of `c`; 0 overwrites. @default 0 */
  beta?: number;
  /**
   * Applied to c after the product: the bias has one value per column of c (a fully connected
   * layer's output feature), then ReLU. Bit-identical to biasAdd and reluForward after it.
   * @default none
   */
  epilogue?: Epilogue;
}

/**
 * Views a tensor as a matrix: its first dimension is the rows and the rest are flattened into
 * the columns, so an (N, C, H, W) activation is an N x CHW matrix.
 */
function asMatrix(t: Tensor): [number, number] {
  return [t.shape[0], t.size / t.shape[0]];
}

export function gemm(a: Tensor, b: Tensor, c: Tensor, options: GemmOptions = {}): void {
  expectTensor('a', a);
  expectTensor('b', b, undefined, a.device);
  expectTensor('c', c, undefined, a.device);
  const transA = boolean('transA', options.transA ?? false);
  const transB = boolean('transB', options.transB ?? false);
  const alpha = finiteNumber('alpha', options.alpha ?? 1);
  const beta = finiteNumber('beta', options.beta ?? 0);
  const [ar, ac] = asMatrix(a);
  const [br, bc] = asMatrix(b);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    throw new ShapeError(
      `Expected inner dimensions to agree for gemm but received a ${formatShape(a.shape)}` +
        `${transA ? 'ᵀ' : ''} and b ${formatShape(b.shape)}${transB ? 'ᵀ' : ''} (${k} vs ${kb})`,
    );
  }
  const [cr, cc] = asMatrix(c);
  if (cr !== m || cc !== n) {
    throw new ShapeError(
      `Expected c of shape [${m}, ${n}] (or [${m}, ...] of ${n} columns) but received ${formatShape(c.shape)}`,
    );
  }
  const [bias, relu] = epilogueArgs(options.epilogue ?? {}, n, a.device);
  native.gemm(a.handle, b.handle, c.handle, transA, transB, m, n, k, alpha, beta, bias, relu);
}
