/**
 * Device selection: what the user asks for ('auto', 'cpu', 'cuda', 'cuda:N') to a concrete
 * device, a GPU only once it passed its smoke check (smoke-check.ts) in this process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findWheelFolders, type WheelSearch } from './cuda-wheels';
import { DeviceError } from './errors';
import { addonFile, type NativeCudaLibraries, native, packageRoot } from './native';
import { gpuSmokeCheck } from './smoke-check';
import type { Device } from './tensor';
import { fail } from './validate';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface ResolvedDevice {
  device: Device;
  /** Why 'auto' chose this device, for a one-line message; empty when asked explicitly. */
  reason: string;
}

export interface CudaLibraries extends NativeCudaLibraries {
  /** What the search of python3's NVIDIA wheels ran and found, or why it did not run. */
  wheelSearch: string;
}

/** The wheel search, run at most once per process. */
let wheelSearch: WheelSearch | null = null;
/** Whether the note on non-deterministic algorithms was given. */
let warnedNondeterministic = false;

/** 12020 -> "12.2" (the CUDA encoding: 1000 * major + 10 * minor). */
function cudaVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** The NVIDIA kernel driver's version ("580.65.06"), or '' when it cannot be read. */
function driverVersion(): string {
  try {
    const text = fs.readFileSync('/proc/driver/nvidia/version', 'utf8');
    return /Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]*)/.exec(text)?.[1] ?? '';
  } catch {
    return '';
  }
}

/**
 * Why the NVIDIA driver cannot run this binary's CUDA code, with what to do, or '' when it can
 * (or when there is no driver at all): the static CUDA runtime linked into the addon needs a
 * driver that supports its CUDA major (CUDA 13: R580 or newer), and the runtime says only
 * cudaErrorInsufficientDriver.
 */
export function driverTooOld(): string {
  const cuda = native.cudaDevices?.();
  if (!cuda || cuda.driverCuda === 0 || cuda.runtimeCuda === 0) return '';
  const [driverMajor, needed] = [
    Math.floor(cuda.driverCuda / 1000),
    Math.floor(cuda.runtimeCuda / 1000),
  ];
  if (driverMajor >= needed) return '';
  const driver = driverVersion();
  return (
    `driver ${driver || '(version unreadable)'} supports CUDA ${cudaVersion(cuda.driverCuda)}; ` +
    `this binary needs ${cudaVersion(cuda.runtimeCuda)}. Update the NVIDIA driver (CUDA ${needed} needs ` +
    `${needed >= 13 ? 'R580' : 'R525'} or newer), or build from source with a CUDA ${driverMajor} toolkit ` +
    `(nvcc ${driverMajor} on the PATH, then npx alexnet build), or use device: 'cpu'`
  );
}

/**
 * Points the library search at python3's NVIDIA wheels (lib/cuda-wheels.ts), once per process,
 * whatever was found before: NCCL (nvidia-nccl-cu12 / -cu13) is looked for in the same folders.
 */
export function searchWheels(): string {
  if (wheelSearch === null) {
    wheelSearch = findWheelFolders();
    if (wheelSearch.folders.length > 0) native.cudaLibraries?.(wheelSearch.folders);
  }
  return wheelSearch.description;
}

/**
 * Opens cuDNN and cuBLAS (native/cuda/library.h) and says what was found. When either is neither
 * in ALEXNET_CUDA_LIBS nor on the loader path, the lib folders of python3's NVIDIA wheels are
 * looked up once (lib/cuda-wheels.ts) and searched too. Null when the build has no CUDA backend.
 */
export function cudaLibraries(): CudaLibraries | null {
  if (!native.cudaLibraries) return null;
  let libs = native.cudaLibraries();
  if (!libs.ok && libs.notFound && wheelSearch === null) {
    wheelSearch = findWheelFolders();
    if (wheelSearch.folders.length > 0) libs = native.cudaLibraries(wheelSearch.folders);
  }
  const searched =
    wheelSearch?.description ??
    (libs.ok ? 'not run: found without it' : 'not run: the libraries were found but unusable');
  const error = libs.ok || !wheelSearch ? libs.error : `${libs.error}\nPython wheels: ${searched}`;
  if (libs.ok && !libs.deterministic && !warnedNondeterministic) {
    warnedNondeterministic = true;
    process.emitWarning(
      'ALEXNET_CUDNN_DETERMINISTIC=0: cuDNN may use non-deterministic algorithms, so repeated GPU runs may differ in the last bits (exact resume and 1 rank = N ranks no longer hold bitwise)',
    );
  }
  return { ...libs, error, wheelSearch: searched };
}

/**
 * Why the CUDA backend cannot run on cuda:`index` here, or '' when it can: not built, no such
 * device (with the runtime's reason), or cuDNN / cuBLAS not found (with what was tried).
 */
export function cudaUnavailable(index = 0): string {
  if (!native.backends.includes('cuda') || !native.cudaDevices || !native.cudaLibraries) {
    return 'this build has no CUDA backend';
  }
  const { devices: gpus, error } = native.cudaDevices();
  if (!gpus.some((d) => d.index === index)) {
    const tooOld = driverTooOld();
    if (tooOld !== '') return `no usable CUDA device: ${tooOld}`;
    if (gpus.length === 0) return `no CUDA device (${error || 'none visible'})`;
    return `no device cuda:${index} (this machine has cuda:0 .. cuda:${gpus.length - 1})`;
  }
  const libs = cudaLibraries();
  return libs === null || libs.ok ? '' : libs.error;
}

/** What the device decision asks of the machine; resolveDevice passes the real one. */
export interface DeviceProbe {
  /** Why the CUDA backend cannot run on cuda:`index`; '' when it can. */
  unavailable(index: number): string;
  /** The smoke check of a device the backend can run on: '' when it passed, else what failed. */
  smokeCheck(device: `cuda:${number}`): string;
  /** The GPU's name, for the message. */
  name(index: number): string;
}

/** Each device's smoke check result in this process: a GPU is checked once, when first used. */
const smokeResults = new Map<string, string>();

const machine: DeviceProbe = {
  unavailable: cudaUnavailable,
  smokeCheck(device) {
    if (!smokeResults.has(device)) smokeResults.set(device, gpuSmokeCheck(device));
    return smokeResults.get(device) ?? '';
  },
  name: (index) => native.cudaDevices?.().devices.find((d) => d.index === index)?.name ?? 'GPU',
};

/** Why the hint of an explicit request that cannot be met, after the reason. */
function unavailableHint(why: string): string {
  // The library errors and the smoke check's message end with what to do; the others get a hint.
  if (why.startsWith('this build')) {
    return ' (it was compiled without nvcc: remove the package\'s build folder to load the prebuilt binary, which has CUDA, or run `alexnet build` with nvcc on the PATH; or use device: "cpu")';
  }
  return why.startsWith('no ') && !why.startsWith('no usable')
    ? ' (use device: "cpu" or "auto")'
    : '';
}

/**
 * The device a request names, asking `probe` about the machine: 'auto' takes cuda:0 when the
 * backend can run there and it passes its smoke check, else the CPU with the reason; 'cuda' and
 * 'cuda:N' throw a DeviceError with the reason instead of computing on a GPU that fails.
 */
export function chooseDevice(request: unknown, probe: DeviceProbe): ResolvedDevice {
  if (typeof request !== 'string' || !/^(auto|cpu|cuda|cuda:\d+)$/.test(request)) {
    fail("'auto', 'cpu', 'cuda' or 'cuda:N'", 'device', request);
  }
  if (request === 'cpu') return { device: 'cpu', reason: '' };
  const index = request === 'auto' || request === 'cuda' ? 0 : Number(request.slice(5));
  const device: `cuda:${number}` = `cuda:${index}`;
  let why = probe.unavailable(index);
  if (why === '') {
    const failure = probe.smokeCheck(device);
    if (failure !== '') {
      why = `${device} (${probe.name(index)}) failed its smoke check: ${failure}; \`alexnet doctor\` checks every op and says more`;
    }
  }
  if (request === 'auto') {
    if (why === '') return { device, reason: `using ${device} (${probe.name(index)})` };
    return { device: 'cpu', reason: `using the CPU: ${why.split('\n')[0]}` };
  }
  if (why !== '') {
    throw new DeviceError(
      `Expected an available device for device but received '${request}': ${why}${unavailableHint(why)}`,
    );
  }
  return { device, reason: '' };
}

/**
 * The device a request names on this machine (chooseDevice); a GPU's smoke check runs the first
 * time this process asks for it.
 */
export function resolveDevice(request: unknown): ResolvedDevice {
  return chooseDevice(request, machine);
}

export interface AddonInfo {
  /** The native addon's file. */
  file: string;
  /** Whether it is the binary shipped in the package rather than a build from source. */
  prebuilt: boolean;
  /** Backends compiled in: ['cpu'], or ['cpu', 'cuda']. */
  backends: string[];
}

/** Which native addon was loaded: shipped or built here, and with which backends. */
export function addonInfo(): AddonInfo {
  const file = addonFile();
  const prebuilt = path.relative(packageRoot(), file).startsWith('prebuilds');
  return { file, prebuilt, backends: [...native.backends] };
}

export interface DeviceInfo {
  device: Device | `cuda:${number}`;
  name: string;
  /** Bytes of memory: system RAM for the CPU, global memory for a GPU. */
  memory: number;
  /** Whether this build can run the op set on it. */
  usable: boolean;
  /** For a CUDA device: cuDNN and cuBLAS, where from, their versions and what did not open. */
  libraries?: CudaLibraries;
  /** Why it is not usable, with what to do; absent when it is. */
  problem?: string;
}

/**
 * The devices of this machine: the CPU (its model, RAM and the threads the kernels use), then
 * the CUDA devices when the addon was built with nvcc, usable when cuDNN and cuBLAS load too,
 * with what loading them found. A driver too old for this binary's CUDA hides the GPUs from it:
 * one unusable cuda:0 entry then says so, with the fix.
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
    const problem = cudaUnavailable(d.index);
    list.push({
      device: `cuda:${d.index}`,
      name: `${d.name} (compute ${d.compute})`,
      memory: d.memory,
      usable: problem === '',
      libraries: cudaLibraries() ?? undefined,
      ...(problem === '' ? {} : { problem }),
    });
  }
  const tooOld = driverTooOld();
  if (cuda && cuda.devices.length === 0 && tooOld !== '') {
    list.push({ device: 'cuda:0', name: 'NVIDIA GPU', memory: 0, usable: false, problem: tooOld });
  }
  return list;
}
