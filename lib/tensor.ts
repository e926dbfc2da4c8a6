/**
 * Tensor: float32 NCHW storage on a device, owned by the native addon. Free it with `dispose()`;
 * the garbage collector only reclaims it as a backstop, and cannot see GPU memory at all.
 */
import { ArgumentError, DisposedError, ShapeError } from './errors';
import { type NativeTensor, native } from './native';
import { fail, integer, isTypedArray, typedArray } from './validate';

/** Where a tensor lives: the CPU, or a CUDA device by index. */
export type Device = 'cpu' | `cuda:${number}`;

function checkShape(shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0) fail('non-empty array of sizes', 'shape', shape);
  return shape.map((d, i) => integer(`shape[${i}]`, d, 1));
}

/** Checks that `device` names a device of this build; plans take their device through it. */
export function checkDevice(device: unknown): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda:\d+)$/.test(device)) {
    fail("'cpu' or 'cuda:N'", 'device', device);
  }
  if (device !== 'cpu' && !native.backends.includes('cuda')) {
    throw new ArgumentError(
      `Expected an available device for device but received '${device}': this build has ` +
        `only the ${native.backends.join(', ')} backend`,
    );
  }
  return device as Device;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  /** @internal The native handle; use the ops in lib/ops rather than this. */
  readonly handle: NativeTensor;
  readonly shape: readonly number[];
  readonly device: Device;

  private constructor(shape: number[], device: Device, base?: Tensor) {
    this.handle = new native.Tensor(shape, device, base?.handle);
    this.shape = Object.freeze(shape);
    this.device = device;
  }

  /** A zero-filled tensor. */
  static zeros(shape: readonly number[], device: Device = 'cpu'): Tensor {
    return new Tensor(checkShape(shape), checkDevice(device));
  }

  /**
   * The first elements of this tensor under another shape, sharing its storage (no copy): a
   * layer's buffers for a smaller batch. The storage lives until this tensor and all its views
   * are disposed.
   */
  view(shape: readonly number[]): Tensor {
    this.assertLive('tensor');
    const dims = checkShape(shape);
    if (sizeOf(dims) > this.size) {
      throw new ShapeError(
        `Expected a view of at most ${this.size} elements but received shape ${formatShape(dims)}`,
      );
    }
    return new Tensor(dims, this.device, this);
  }

  /** A tensor holding a copy of `data`, whose length must equal the shape's size. */
  static from(data: Float32Array, shape: readonly number[], device: Device = 'cpu'): Tensor {
    if (!isTypedArray(data, Float32Array)) fail('Float32Array', 'data', data);
    const dims = checkShape(shape);
    if (data.length !== sizeOf(dims)) {
      throw new ShapeError(
        `Expected data of length ${sizeOf(dims)} for shape ${formatShape(dims)} but received length ${data.length}`,
      );
    }
    const t = new Tensor(dims, checkDevice(device));
    t.handle.write(data);
    return t;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }

  /**
   * Copies the contents back into a new Float32Array, blocking until the ops queued before have
   * run (`await flush()` first to wait without blocking).
   */
  toArray(): Float32Array {
    this.assertLive('tensor');
    return this.handle.read();
  }

  /** Overwrites the contents with `data` (same length as the tensor). */
  write(data: Float32Array): void {
    this.assertLive('tensor');
    this.handle.write(typedArray('data', data, Float32Array, this.size));
  }

  fill(value: number): void {
    this.assertLive('tensor');
    if (typeof value !== 'number') fail('number', 'value', value);
    this.handle.fill(value);
  }

  /** Copies another tensor of the same size and device into this one. */
  copyFrom(source: Tensor): void {
    this.assertLive('tensor');
    expectTensor('source', source, undefined, this.device);
    if (source.size !== this.size) {
      throw new ShapeError(
        `Expected source of size ${this.size} but received shape ${formatShape(source.shape)}`,
      );
    }
    this.handle.copyFrom(source.handle);
  }

  /** Frees the storage now. Idempotent; any later use throws a DisposedError. */
  dispose(): void {
    this.handle.dispose();
  }

  /** @internal */
  assertLive(name: string): void {
    if (this.handle.disposed) {
      throw new DisposedError(`Tensor ${name} ${formatShape(this.shape)} has been disposed`);
    }
  }
}

/**
 * Checks that `value` is a live Tensor, with `shape` when given (entries of -1 match any size)
 * and on `device` when given.
 */
export function expectTensor(
  name: string,
  value: unknown,
  shape?: readonly number[],
  device?: Device,
): Tensor {
  if (!(value instanceof Tensor)) fail('Tensor', name, value);
  value.assertLive(name);
  if (
    shape &&
    (shape.length !== value.shape.length || shape.some((d, i) => d !== -1 && d !== value.shape[i]))
  ) {
    throw new ShapeError(
      `Expected shape ${formatShape(shape).replace(/-1/g, '*')} for ${name} but received ${formatShape(value.shape)}`,
    );
  }
  if (device && value.device !== device) {
    throw new ArgumentError(
      `Expected ${name} on device ${device} but received a tensor on ${value.device}`,
    );
  }
  return value;
}
