/**
 * The CPU kernels this machine runs, for tests that force each one in a child process with
 * ALEXNET_GEMM_ISA (the GEMM's choice, which the convolution and LRN kernels follow): AVX-512
 * and AVX2 where /proc/cpuinfo lists them, and the generic kernel everywhere; and how such a child
 * is run and its float arrays passed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const cpuFlags = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
const x86 = process.arch === 'x64';

export const hasAvx2 = x86 && /\bavx2\b/.test(cpuFlags) && /\bfma\b/.test(cpuFlags);
export const hasAvx512 = hasAvx2 && /\bavx512f\b/.test(cpuFlags);

/** [ALEXNET_GEMM_ISA value, whether this CPU runs it, why not where it does not]. */
export const KERNELS: readonly (readonly [string, boolean, string])[] = [
  ['avx512', hasAvx512, 'the CPU has no AVX-512F'],
  ['avx2', hasAvx2, 'the CPU has no AVX2 + FMA'],
  ['generic', true, ''],
];

/** A float array's bytes as base64, to pass it to a child process or back. */
export function encodeFloats(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function decodeFloats(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** The CPU backend's settings a child starts without, unless `env` sets them. */
const KERNEL_SETTINGS = ['ALEXNET_CONV_ALGO', 'ALEXNET_GEMM_ISA', 'ALEXNET_NUM_THREADS'];

/**
 * Runs `script` in a child node process with `input` on its standard input, this process's
 * environment less KERNEL_SETTINGS and with `env` added, and returns its standard output parsed
 * as JSON; throws with its standard error if it fails.
 */
export function runKernelChild<T>(script: string, env: Record<string, string>, input = ''): T {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of KERNEL_SETTINGS) delete childEnv[name];
  Object.assign(childEnv, env);
  const child = spawnSync(process.execPath, ['-e', script], {
    env: childEnv,
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (child.status !== 0) throw new Error(`child with ${JSON.stringify(env)}: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}
