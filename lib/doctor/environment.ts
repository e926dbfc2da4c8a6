/**
 * What `alexnet doctor` found before it checks anything: the package and the binary that loaded,
 * the CPU (its vector extensions, the GEMM kernel picked for it, the threads), every GPU the CUDA
 * runtime sees (name, compute capability, memory, the driver and the CUDA version it supports),
 * and where cuDNN, cuBLAS, cuBLASLt and NCCL were found with their versions, or why each did not
 * open (its dlerror). The driver's version is read from /proc/driver/nvidia/version, where the
 * NVIDIA kernel module writes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { type AddonInfo, addonInfo, cudaLibraries, cudaUnavailable } from '../device';
import { native } from '../native';
import { packageVersion } from '../package-root';

export interface GpuInfo {
  device: `cuda:${number}`;
  name: string;
  /** "8.9" */
  computeCapability: string;
  /** Bytes of global memory. */
  memory: number;
  /** The NVIDIA driver's version ('' when unknown). */
  driver: string;
  /** The newest CUDA version the driver supports ('' when unknown). */
  driverCuda: string;
  /** Why the CUDA backend cannot run on it; '' when it can. */
  unusable: string;
}

export interface LibraryInfo {
  name: 'cuDNN' | 'cuBLAS' | 'cuBLASLt' | 'NCCL';
  found: boolean;
  /** "cuDNN 9.10.2 from /path" when found; else what was tried and each dlerror. */
  detail: string;
}

export interface Environment {
  package: string;
  node: string;
  platform: string;
  addon: AddonInfo & { mpi: boolean };
  cpu: { model: string; isa: string[]; gemmKernel: string; threads: number };
  gpus: GpuInfo[];
  /** Why no GPU is listed ('' when some are): no CUDA backend, or the runtime's error. */
  noGpu: string;
  /** Empty when the binary has no CUDA backend. */
  libraries: LibraryInfo[];
}

/** The vector extensions the GEMM kernels care about, from /proc/cpuinfo (Linux). */
function cpuIsa(): string[] {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    const have = new Set(flags.trim().split(/\s+/));
    return ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512vl', 'avx512bw'].filter((f) =>
      have.has(f),
    );
  } catch {
    return [];
  }
}

/** The NVIDIA driver's version, e.g. 550.54.14, or '' where the file is not there. */
function driverVersion(): string {
  try {
    const text = fs.readFileSync('/proc/driver/nvidia/version', 'utf8');
    return /Kernel Module\s+(?:for \S+\s+)?(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? '';
  } catch {
    return '';
  }
}

/** The lines of a loader error about `name`: its headline and each path tried with its dlerror. */
function paragraphOf(error: string, name: string): string {
  const lines = error.split('\n');
  const start = lines.findIndex((line) => line.startsWith(name));
  if (start < 0) return error.split('\n')[0] || 'not opened';
  const tried: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    tried.push(line);
  }
  return [lines[start], ...tried].join('\n');
}

function libraryInfos(): LibraryInfo[] {
  const libs = cudaLibraries();
  if (libs === null) return [];
  const lt = libs.unopened.find((line) => line.startsWith('libcublasLt'));
  const result: LibraryInfo[] = [
    {
      name: 'cuDNN',
      found: libs.cudnn !== '',
      detail: libs.cudnn || paragraphOf(libs.error, 'cuDNN'),
    },
    {
      name: 'cuBLAS',
      found: libs.cublas !== '',
      detail: libs.cublas || paragraphOf(libs.error, 'cuBLAS'),
    },
    {
      name: 'cuBLASLt',
      found: libs.cublas !== '' && lt === undefined,
      detail:
        lt ?? (libs.cublas ? 'opened by cuBLAS, beside it' : 'not tried: cuBLAS did not open'),
    },
  ];
  try {
    result.push({ name: 'NCCL', found: true, detail: native.ncclDescription?.() ?? '' });
  } catch (error) {
    result.push({
      name: 'NCCL',
      found: false,
      detail: (error as Error).message.split('\nInstall')[0],
    });
  }
  return result;
}

/** What this machine and this package have, as `alexnet doctor` reports it. */
export function environment(): Environment {
  const cuda = native.cudaDevices?.();
  const driver = driverVersion();
  const driverCuda = cudaLibraries()?.versions.driverCuda ?? '';
  const gpus = (cuda?.devices ?? []).map(
    (d): GpuInfo => ({
      device: `cuda:${d.index}`,
      name: d.name,
      computeCapability: d.compute,
      memory: d.memory,
      driver,
      driverCuda,
      unusable: cudaUnavailable(d.index),
    }),
  );
  const noGpu = !cuda
    ? 'this binary has no CUDA backend'
    : gpus.length === 0
      ? `no CUDA device: ${cuda.error || 'none visible'}`
      : '';
  return {
    package: `alexnet-cudnn ${packageVersion()}`,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    addon: { ...addonInfo(), mpi: native.mpi },
    cpu: {
      model: os.cpus()[0]?.model.trim() ?? 'unknown',
      isa: cpuIsa(),
      gemmKernel: native.gemmIsa,
      threads: native.cpuThreads,
    },
    gpus,
    noGpu,
    libraries: libraryInfos(),
  };
}
