/**
 * The BLAS libraries the benches time PyTorch on (issue 11). Debian's python3-torch calls sgemm_,
 * which runs its fully connected layers, from whatever libblas.so.3 the dynamic linker finds: by
 * default the alternatives link, which points at the reference (netlib) BLAS, or at OpenBLAS
 * where libopenblas0-pthread is installed. On the reference BLAS PyTorch's fc layers are ten
 * times slower or more, so a ratio against it alone flatters us; the benches time PyTorch on
 * both, each variant in its own process, chosen by putting its folder first on that process's
 * LD_LIBRARY_PATH. The process reports the file its sgemm_ runs in (torch_blas.py), and the
 * bench fails unless that file is in the variant's folder, so that a variant cannot silently be
 * the other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlexNetError } from '../../lib/errors';
import type { FlagSpec } from '../cli';

export type TorchBlasName = 'reference' | 'openblas';

export interface TorchBlas {
  /** What --torch-blas, the table columns and the JSON call it. */
  name: TorchBlasName;
  title: string;
  /** The folder whose libblas.so.3 this variant's PyTorch loads. */
  folder: string;
  /** The Debian package that installs that folder. */
  debianPackage: string;
}

/** Debian's multiarch library folder for this architecture. */
const LIB_DIR = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

export const TORCH_BLAS: readonly TorchBlas[] = [
  {
    name: 'reference',
    title: 'the reference BLAS (netlib)',
    folder: `${LIB_DIR}/blas`,
    debianPackage: 'libblas3',
  },
  {
    name: 'openblas',
    title: 'OpenBLAS (pthread)',
    folder: `${LIB_DIR}/openblas-pthread`,
    debianPackage: 'libopenblas0-pthread',
  },
];

/** What scripts/bench/torch_blas.py reports about the BLAS its PyTorch process calls. */
export interface BlasReport {
  /** The real path of the file torch's sgemm_ runs in; null where none exports it. */
  library: string | null;
  /** OpenBLAS's own name for the kernels it picked, where the library is OpenBLAS. */
  openblasCore: string | null;
  openblasThreads: number | null;
}

export const TORCH_BLAS_FLAG: FlagSpec = {
  type: 'string',
  description: `comma-separated BLAS libraries to time PyTorch on, each in its own process: ${TORCH_BLAS.map(
    (b) => `${b.name} (${b.folder}/)`,
  ).join(', ')}`,
  defaultText: 'each one installed here',
  placeholder: 'list',
};

function libblas(blas: TorchBlas): string {
  return path.join(blas.folder, 'libblas.so.3');
}

function missing(blas: TorchBlas): string {
  return `${libblas(blas)} is missing (Debian: apt-get install ${blas.debianPackage})`;
}

/**
 * The variants a --torch-blas value names, which must be installed; without a value, those
 * installed here, and a note for each one left out. Every name is checked against `table` before
 * any is checked for being installed, so that an unknown name is reported as such whatever this
 * machine has. `table` is TORCH_BLAS except in tests, which give folders of their own.
 */
export function selectTorchBlas(
  raw: string | undefined,
  table: readonly TorchBlas[] = TORCH_BLAS,
): {
  variants: TorchBlas[];
  notes: string[];
} {
  const installed = (blas: TorchBlas) => fs.existsSync(libblas(blas));
  if (raw === undefined) {
    return {
      variants: table.filter(installed),
      notes: table
        .filter((b) => !installed(b))
        .map((b) => `PyTorch on ${b.title}: skipped, ${missing(b)}`),
    };
  }
  const names = [...new Set(raw.split(',').map((s) => s.trim()))];
  const variants = names.map((name) => {
    const blas = table.find((b) => b.name === name);
    if (!blas) {
      throw new AlexNetError(
        `Expected ${table.map((b) => b.name).join(' or ')} in --torch-blas but received '${name}'`,
      );
    }
    return blas;
  });
  const absent = variants.find((blas) => !installed(blas));
  if (absent) throw new AlexNetError(`--torch-blas ${absent.name}: ${missing(absent)}`);
  return { variants, notes: [] };
}

/**
 * The OpenBLAS core type to force on this CPU; undefined leaves OpenBLAS's own pick.
 *
 * OpenBLAS 0.3.21 (Debian 12) runs AMD Zen 4 (family 25 with AVX-512) as Cooperlake, the Intel
 * core with the same instructions (AVX-512 with BF16). But Zen 4 executes a 512-bit instruction
 * as two 256-bit halves, and on our fc GEMMs OpenBLAS's AVX2 kernels were faster. Single-thread
 * sgemm in torch 1.13 on an EPYC Zen 4 (load average about 2 on its 2 cores, two runs each),
 * GFLOP/s for Cooperlake (its pick) / SkylakeX / Haswell / Zen:
 *   fc6 forward, batch 16:         30-31 / 32 / 38-44 / 37-38
 *   fc6 backward-data, batch 16:   35-36 / 34-36 / 58-60 / 49-59
 *   fc6 forward, batch 128:        80-81 / 81 / 88-90 / 72-87
 *   fc6 backward-filter, batch 16: 11 / 11-12 / 12 / 12-13
 * Zen, what the CPU is, runs the same sgemm micro-kernel as Haswell (OpenBLAS's
 * kernel/x86_64/KERNEL.ZEN). Zen 3 (same family, no AVX-512) is detected as Zen already, and
 * Intel's AVX-512 cores run those kernels at full width, so this is the one case overridden.
 */
function openblasCoretype(): string | undefined {
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1];
  const zen4 =
    field('vendor_id') === 'AuthenticAMD' &&
    field('cpu family') === '25' &&
    (field('flags') ?? '').split(' ').includes('avx512f');
  return zen4 ? 'Zen' : undefined;
}

/** The environment of a variant's PyTorch process running on `threads` threads. */
export function torchBlasEnv(blas: TorchBlas, threads: number): NodeJS.ProcessEnv {
  const inherited = process.env.LD_LIBRARY_PATH;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_LIBRARY_PATH: inherited ? `${blas.folder}:${inherited}` : blas.folder,
    // OpenBLAS otherwise starts a thread per core; ours and torch.set_num_threads use `threads`.
    OPENBLAS_NUM_THREADS: String(threads),
  };
  // A core type set by the user wins: it is how to time another choice.
  const coretype = process.env.OPENBLAS_CORETYPE ?? openblasCoretype();
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  return env;
}

/** Throws unless the library `python`'s PyTorch reported is in `blas`'s folder. */
export function checkTorchBlas(blas: TorchBlas, report: BlasReport, python: string): void {
  if (report.library && path.dirname(report.library) === fs.realpathSync(blas.folder)) return;
  throw new AlexNetError(
    `${python}'s PyTorch was started on ${blas.title}, LD_LIBRARY_PATH=${blas.folder}, but its ` +
      `sgemm_ runs in ${report.library ?? 'no shared library'}, so its timings would not be ` +
      "that library's. Debian's python3-torch (/usr/bin/python3) takes its BLAS from " +
      'libblas.so.3 and can be switched, unless LD_PRELOAD loads another BLAS first; a torch ' +
      "that bundles its BLAS (pip's wheels) cannot",
  );
}

/** The BLAS a variant's PyTorch runs on, as it reported it, for a header line. */
export function describeBlas(report: BlasReport): string {
  const openblas = report.openblasCore
    ? `, OpenBLAS core ${report.openblasCore} on ${report.openblasThreads} threads`
    : '';
  return `${report.library}${openblas}`;
}
