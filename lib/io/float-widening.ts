/**
 * Stored floating-point elements widened to float32, as the readers of weights files need them:
 * IEEE 754 binary16 (PyTorch's float16, safetensors' F16) and bfloat16 (the top 16 bits of a
 * float32, as Google Brain defined it for TPUs), in either byte order.
 */
import { endianness } from 'node:os';

/** IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

export type StoredFloat = 'float32' | 'float16' | 'bfloat16';

/** Bytes per element of each stored type. */
export const STORED_FLOAT_BYTES: Record<StoredFloat, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
};

const hostIsLittleEndian = endianness() === 'LE';

/**
 * `bytes` (a whole number of elements of `type`) as float32 values in host order: a view of
 * `bytes` where they already are (float32 in host order, aligned), else a copy.
 */
export function widenToFloat32(
  bytes: Uint8Array,
  type: StoredFloat,
  littleEndian: boolean,
): Float32Array {
  if (type === 'float32' && littleEndian === hostIsLittleEndian) {
    // No copy where possible: fc6's weights alone are 151 MB in torchvision's file.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / STORED_FLOAT_BYTES[type]);
  if (type === 'float32') {
    for (let i = 0; i < out.length; ++i) out[i] = view.getFloat32(4 * i, littleEndian);
  } else if (type === 'float16') {
    for (let i = 0; i < out.length; ++i) out[i] = halfToFloat(view.getUint16(2 * i, littleEndian));
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; ++i) bits[i] = view.getUint16(2 * i, littleEndian) << 16;
  }
  return out;
}
