/**
 * What a convolution's or a matrix product's forward does to its output before returning: add a
 * bias per output channel, then ReLU. On the CPU backend each block of the output gets it from
 * the thread that has just computed it, still in cache (native/cpu/gemm.h, GemmEpilogue), instead
 * of two more passes through memory over the whole output; the result is bit-identical to
 * `biasAdd` then `reluForward`. A layer that uses it masks its gradient with `reluBiasBackward`
 * (ops/bias.ts).
 */
import type { NativeTensor } from '../native';
import { type Device, expectTensor, type Tensor } from '../tensor';
import { boolean, fail } from '../validate';

export interface Epilogue {
  /** Added per output channel (a tensor of shape [channels]); none when absent. */
  bias?: Tensor;
  /** max(y, 0) after the bias. @default false */
  relu?: boolean;
}

/** The native arguments of `epilogue`, checked against the output's channels and device. */
export function epilogueArgs(
  epilogue: Epilogue,
  channels: number,
  device: Device,
): [NativeTensor | null, boolean] {
  if (typeof epilogue !== 'object' || epilogue === null) fail('object', 'epilogue', epilogue);
  const bias = epilogue.bias === undefined ? null : epilogue.bias;
  if (bias !== null) expectTensor('epilogue.bias', bias, [channels], device);
  return [bias?.handle ?? null, boolean('epilogue.relu', epilogue.relu ?? false)];
}
