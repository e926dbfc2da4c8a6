/**
 * What a benchmark figure was measured on: printed above every table and stored with the JSON
 * results, because a ratio means little without the CPU, the thread count and the load.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { native, packageRoot } from '../../lib/native';

export interface Machine {
  /** The CPU's model name, from /proc/cpuinfo where there is one. */
  cpu: string;
  /** Logical CPUs the OS reports. */
  cores: number;
  /** Threads our CPU backend runs on (ALEXNET_NUM_THREADS, else one per core). */
  threads: number;
  /** The GEMM micro-kernel our build picked for this CPU. */
  gemmIsa: string;
  /**
   * Our CPU convolutions' algorithm: ALEXNET_CONV_ALGO where set (im2col, direct, or the opt-in
   * winograd), else 'measured' (direct where it was measured to win, im2col elsewhere).
   */
  convAlgorithm: string;
  memoryGiB: number;
  os: string;
  node: string;
  /** Our version and commit. */
  alexnet: string;
  /** ISO date and time of the run's start. */
  date: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine. */
  loadAverage: number[];
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1].trim();
  } catch {
    // No /proc (macOS, Windows): Node's own report below.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function ourVersion(): string {
  const root = packageRoot();
  const { version } = JSON.parse(fs.readFileSync(`${root}/package.json`, 'utf8')) as {
    version: string;
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  return git.status === 0 ? `${version} (${git.stdout.trim()})` : version;
}

/** What the addon makes of ALEXNET_CONV_ALGO (native/cpu/conv_algorithm.h): any other value is 'measured'. */
function convAlgorithm(setting: string | undefined): string {
  return setting === 'direct' || setting === 'im2col' || setting === 'winograd'
    ? setting
    : 'measured';
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    threads: native.cpuThreads,
    gemmIsa: native.gemmIsa,
    convAlgorithm: convAlgorithm(process.env.ALEXNET_CONV_ALGO),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    alexnet: ourVersion(),
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
