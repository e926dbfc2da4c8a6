/**
 * The CPU kernels this machine runs, for tests that force each one in a child process with
 * ALEXNET_GEMM_ISA (the GEMM's choice, which the convolution and LRN kernels follow): AVX-512
 * and AVX2 where /proc/cpuinfo lists them, and the generic kernel everywhere.
 */
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
