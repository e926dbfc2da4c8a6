/** Device selection: what the user asks for ('auto', 'cpu', 'cuda', 'cuda:N') to a concrete device. */
import * as os from 'node:os';
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

export interface DeviceInfo {
  device: Device | `cuda:${number}`;
  name: string;
  /** Bytes of memory: system RAM for the CPU, global memory for a GPU. */
  memory: number;
  /** Whether this build can run the op set on it. */
  usable: boolean;
}

/**
 * The devices of this machine: the CPU (its model, RAM and the threads the kernels use), then
 * the CUDA devices when the addon was built with nvcc.
 */
export function devices(): DeviceInfo[] {
  const cpus = os.cpus();
  const list: DeviceInfo[] = [
    {
      device: 'cpu',
      name: `${cpus[0]?.model.trim() ?? 'CPU'} (${native.cpuThreads} threads, GEMM ${native.gemmIsa})`,
      memory: os.totalmem(),
      usable: true,
    },
  ];
  const cuda = native.cudaDevices?.();
  for (const d of cuda?.devices ?? []) {
    list.push({
      device: `cuda:${d.index}`,
      name: `${d.name} (compute ${d.compute})`,
      memory: d.memory,
      usable: native.backends.includes('cuda'),
    });
  }
  return list;
}
