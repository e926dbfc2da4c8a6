/**
 * Inverted dropout (Srivastava et al., JMLR 2014): each element is kept with probability 1 - p
 * and scaled by 1 / (1 - p), so inference uses the layer unchanged. The mask comes from the
 * Philox4x32-10 counter-based generator (Salmon et al., SC11) keyed by (seed, layer) with the
 * counter (element / 4, step): it is recomputed in backward rather than stored, it is the same
 * on every backend, and a resumed run draws the same masks. A data-parallel rank holding rows
 * r.. of the global batch passes `offset` = r times the row size, so its rows get the masks one
 * process with the whole batch would draw for them.
 */
import { native } from '../native';
import { expectTensor, type Tensor } from '../tensor';
import { fail, integer } from '../validate';

/** What identifies one dropout mask. */
export interface DropoutKey {
  /** Probability of dropping an element, in [0, 1); 0 copies the input. */
  p: number;
  /** The run's random seed, an integer in [0, 2^32). */
  seed: number;
  /** The training step, an integer in [0, 2^32): a new mask every step. */
  step: number;
  /** The layer's index, an integer in [0, 2^32): a different mask per layer. */
  layer: number;
  /** Index in the mask of the tensor's first element, an integer >= 0. @default 0 */
  offset?: number;
}

const MAX_UINT32 = 2 ** 32 - 1;

function checkKey(key: unknown): Required<DropoutKey> {
  if (typeof key !== 'object' || key === null) fail('object', 'key', key);
  const { p, seed, step, layer, offset } = key as Record<string, unknown>;
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) fail('number in [0, 1)', 'p', p);
  return {
    p,
    seed: integer('seed', seed, 0, MAX_UINT32),
    step: integer('step', step, 0, MAX_UINT32),
    layer: integer('layer', layer, 0, MAX_UINT32),
    offset: integer('offset', offset ?? 0, 0),
  };
}

/** y = x * mask / (1 - p). `y` has the shape of `x` and may be `x` itself. */
export function dropoutForward(x: Tensor, y: Tensor, key: DropoutKey): void {
  expectTensor('x', x);
  expectTensor('y', y, x.shape, x.device);
  const k = checkKey(key);
  native.dropoutForward(x.handle, y.handle, k.p, k.seed, k.step, k.layer, k.offset);
}

/** dx = dy * mask / (1 - p), with the mask dropoutForward drew for the same key. */
export function dropoutBackward(dy: Tensor, dx: Tensor, key: DropoutKey): void {
  expectTensor('dy', dy);
  expectTensor('dx', dx, dy.shape, dy.device);
  const k = checkKey(key);
  native.dropoutBackward(dy.handle, dx.handle, k.p, k.seed, k.step, k.layer, k.offset);
}
