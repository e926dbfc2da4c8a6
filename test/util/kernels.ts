/**
 * The CPU kernels this machine runs, for tests that force each one in a child process with
 * ALEXNET_GEMM_ISA (the GEMM's choice, which the convolution and LRN kernels follow): AVX-512
 * and AVX2 where /proc/cpuinfo lists them, and the generic kernel everywhere; and how such a child
 * is run, its float arrays passed, and how a convolution test's child script starts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

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

const DIST = path.join(__dirname, '..', '..', 'dist', 'lib');

/**
 * The start of a convolution test's child script: the built library as `api` and the addon as
 * `native`, the JSON `input` from standard input, `decode` and `encode` for float arrays in base64,
 * and `convAlgorithms(plan, shape)`, the algorithms the addon runs each pass of a ConvPlan with.
 */
export const CONV_CHILD_PRELUDE = `
const api = require(${JSON.stringify(path.join(DIST, 'index.js'))});
const { native } = require(${JSON.stringify(path.join(DIST, 'native.js'))});
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const decode = (s) => { const b = Buffer.from(s, 'base64'); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const encode = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const convAlgorithms = (plan, shape) => {
  const p = plan.inputShape, q = plan.weightShape;
  const pair = (v, d) => (Array.isArray(v) ? v : [v ?? d, v ?? d]);
  const handle = new native.ConvPlan(p[0], p[1], p[2], p[3], q[0], q[2], q[3],
    ...pair(shape.stride, 1), ...pair(shape.pad, 0), shape.groups ?? 1, 'cpu');
  const algorithms = native.convAlgorithms(handle);
  handle.dispose();
  return algorithms;
};
`;
