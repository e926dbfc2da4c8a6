/**
 * `alexnet doctor`: what this machine and package have, a check of every backend that can run
 * (lib/doctor/doctor.ts), a table and a verdict line. Exits 0 only when every check passed and
 * every GPU found is usable; `--json` prints the whole report instead, for a bug report.
 */
import type { CheckResult } from '../lib/doctor/compare';
import { type DoctorReport, doctor } from '../lib/doctor/doctor';
import type { Environment } from '../lib/doctor/environment';
import { AlexNetError } from '../lib/errors';
import { type Flags, parseFlags } from './cli';

const USAGE = `Usage: alexnet doctor [options]

Says which binary loaded, what the CPU and every GPU are, and where cuDNN, cuBLAS, cuBLASLt and
NCCL were found; then checks the CPU backend against float64 references and, on every usable
GPU, each op and a few training steps against the CPU backend, and times a bvlc training step
at batch 128. Exits 0 when every check passed, 1 otherwise.`;

const FLAGS: Flags = {
  json: { type: 'boolean', description: 'print the whole report as JSON (for a bug report)' },
  seed: {
    type: 'string',
    description: 'seed of the random inputs',
    default: '1',
    placeholder: 'n',
  },
  help: { type: 'boolean', description: 'show this help' },
};

const GiB = 2 ** 30;

/** The environment as `label  value` lines. */
function environmentLines(env: Environment): string[] {
  const { addon, cpu } = env;
  const backends = [...addon.backends, ...(addon.mpi ? ['mpi'] : [])].join(', ');
  const lines = [
    `package   ${env.package} on Node ${env.node}, ${env.platform}`,
    `binary    ${addon.file} (${addon.prebuilt ? 'prebuilt' : 'built from source'}; ${backends})`,
    `CPU       ${cpu.model}; ${cpu.isa.join(' ') || 'ISA unknown'}; GEMM kernel ${cpu.gemmKernel}; ${cpu.threads} threads`,
  ];
  if (env.gpus.length === 0) lines.push(`GPU       none: ${env.noGpu}`);
  for (const g of env.gpus) {
    const usable = g.unusable === '' ? 'usable' : `NOT USABLE: ${g.unusable.split('\n')[0]}`;
    lines.push(
      `GPU       ${g.device} ${g.name}, compute ${g.computeCapability}, ${(g.memory / GiB).toFixed(1)} GiB, ` +
        `driver ${g.driver || 'unknown'} (CUDA ${g.driverCuda || 'unknown'}): ${usable}`,
    );
  }
  for (const lib of env.libraries) {
    const [first, ...rest] = lib.detail.split('\n');
    lines.push(`${lib.name.padEnd(9)} ${lib.found ? first : `not found: ${first}`}`);
    for (const line of rest) lines.push(`          ${line.trim()}`);
  }
  return lines;
}

function resultLine(device: string, r: CheckResult, width: number): string {
  const detail = r.error ?? `max error ${r.maxError?.toExponential(2)} (${r.tolerance})`;
  return `${r.ok ? 'ok  ' : 'FAIL'}  ${device.padEnd(7)} ${r.name.padEnd(width)}  ${detail}`;
}

/** The report as the table `alexnet doctor` prints. */
export function formatReport(report: DoctorReport): string {
  const lines = environmentLines(report.environment);
  const width = Math.max(...report.devices.flatMap((d) => d.results.map((r) => r.name.length)));
  for (const d of report.devices) {
    lines.push('', `checks on ${d.device} (seed ${report.seed}, ${d.seconds.toFixed(1)} s)`);
    for (const r of d.results) lines.push(resultLine(d.device, r, width));
    if (d.step) {
      lines.push(
        `time      bvlc training step at batch ${d.step.batch}: ${d.step.ms.toFixed(1)} ms (${d.step.imagesPerSecond.toFixed(0)} images/s)`,
      );
    }
    if (d.stepError) lines.push(`FAIL      bvlc training step at batch 128: ${d.stepError}`);
  }
  lines.push('', report.verdict);
  return `${lines.join('\n')}\n`;
}

/** The doctor command; sets the exit code (0 when everything passed). */
export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  const seed = args.number('seed', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer')!;
  const json = args.flag('json');
  const report = await doctor({
    seed,
    onDevice: json ? undefined : (device) => process.stderr.write(`checking ${device}...\n`),
  });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  process.exitCode = report.ok ? 0 : 1;
}
