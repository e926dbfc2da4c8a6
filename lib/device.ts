/** Device selection: what the user asks for ('auto', 'cpu', 'cuda', 'cuda:N') to a concrete device. */
import { DeviceError } from './errors';
import { native } from './native';
import type { Device } from './tensor';
import { fail } from './validate';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface ResolvedDevice {
  device: Device;
  /** Why 'auto' chose this device, for a one-line message; empty when asked explicitly. */
  reason: string;
}

export function resolveDevice(request: unknown): ResolvedDevice {
  if (typeof request !== 'string' || !/^(auto|cpu|cuda|cuda:\d+)$/.test(request)) {
    fail("'auto', 'cpu', 'cuda' or 'cuda:N'", 'device', request);
  }
  const cudaBuilt = native.backends.includes('cuda');
  if (request === 'cpu') return { device: 'cpu', reason: '' };
  if (request === 'auto') {
    if (cudaBuilt) return { device: 'cuda:0', reason: 'CUDA backend available' };
    return { device: 'cpu', reason: 'using the CPU: this build has no CUDA backend' };
  }
  if (!cudaBuilt) {
    throw new DeviceError(
      `Expected an available device for device but received '${request}': this build has no ` +
        'CUDA backend (rebuild with nvcc on the PATH, or use device: "cpu")',
    );
  }
  return { device: request === 'cuda' ? 'cuda:0' : (request as Device), reason: '' };
}
