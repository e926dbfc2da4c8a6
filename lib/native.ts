/**
 * Loads the compiled addon and declares its surface. The native functions trust their
 * arguments: call them through lib/tensor.ts and lib/ops, which validate first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeviceError } from './errors';

export interface NativeTensor {
  read(): Float32Array;
  write(data: Float32Array): void;
  fill(value: number): void;
  copyFrom(source: NativeTensor): void;
  dispose(): void;
  readonly shape: number[];
  readonly device: string;
  readonly disposed: boolean;
}

/** A per-shape plan (descriptors, algorithms, scratch sizes) for conv, LRN or pooling. */
export interface NativePlan {
  dispose(): void;
}

export interface NativeAddon {
  Tensor: new (shape: number[], device: string) => NativeTensor;
  /** Backends compiled into this build, e.g. ['cpu'] or ['cpu', 'cuda']. */
  backends: string[];
  cpuThreads: number;
  /** The GEMM micro-kernel picked for this CPU: 'avx512', 'avx2' or 'generic'. */
  gemmIsa: string;

  gemm(
    a: NativeTensor,
    b: NativeTensor,
    c: NativeTensor,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    beta: number,
  ): void;
}

/** The package root: the nearest folder above this file with our package.json. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return __dirname;
    dir = parent;
  }
  return dir;
}

function load(): NativeAddon {
  const file = path.join(packageRoot(), 'build', 'Release', 'alexnet_native.node');
  try {
    return require(file) as NativeAddon;
  } catch (error) {
    throw new DeviceError(
      `Could not load the alexnet-cudnn native addon from ${file}: ` +
        `${(error as Error).message.split('\n')[0]}\n` +
        'Build it with `npm run build` (needs a C++ compiler, and CMake or node-gyp).',
    );
  }
}

export const native: NativeAddon = load();
