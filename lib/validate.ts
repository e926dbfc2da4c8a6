/**
 * Argument checks shared by the library. Each throws an ArgumentError whose message names the
 * argument, the expectation and the received value.
 */
import { ArgumentError } from './errors';

export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}' of type string`;
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return `${String(value)} of type ${typeof value}`;
}

export function fail(expected: string, name: string, received: unknown): never {
  throw new ArgumentError(`Expected ${expected} for ${name} but received ${describe(received)}`);
}

export function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 1
          ? 'positive integer'
          : `integer >= ${min}`
        : `integer between ${min} and ${max}`;
    fail(range, name, value);
  }
  return value;
}

export function finiteNumber(name: string, value: unknown, min = -Infinity, max = Infinity) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity
        ? 'finite number'
        : max === Infinity
          ? `number >= ${min}`
          : `number between ${min} and ${max}`;
    fail(range, name, value);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail('boolean', name, value);
  return value;
}

/**
 * Whether `value` is a typed array of `type`, by its tag rather than `instanceof`: arrays made in
 * another realm (a vm context, a worker's transferred buffer, jest's sandbox reading arrays the
 * addon created) have their own constructors, and instanceof would reject them.
 */
export function isTypedArray<T extends Float32Array | Int32Array | Uint8Array>(
  value: unknown,
  type: { new (length: number): T; name: string },
): value is T {
  return Object.prototype.toString.call(value) === `[object ${type.name}]`;
}

export function typedArray<T extends Float32Array | Int32Array | Uint8Array>(
  name: string,
  value: unknown,
  type: { new (length: number): T; name: string },
  length?: number,
): T {
  if (!isTypedArray(value, type)) fail(type.name, name, value);
  if (length !== undefined && value.length !== length) {
    throw new ArgumentError(
      `Expected ${type.name} of length ${length} for ${name} but received length ${value.length}`,
    );
  }
  return value;
}

/** An (n, c, h, w) shape: an array of 4 positive integers. */
export function nchwShape(name: string, value: unknown): [number, number, number, number] {
  if (!Array.isArray(value) || value.length !== 4) {
    fail('array of 4 sizes [n, c, h, w]', name, value);
  }
  const [n, c, h, w] = value.map((d, i) => integer(`${name}[${i}]`, d, 1));
  return [n, c, h, w];
}
