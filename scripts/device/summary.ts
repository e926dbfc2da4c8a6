/**
 * The last step of scripts/device/check.sh on the GPU machine: reads the JSON files the steps wrote
 * to the output folder, each file whole (gpu-check.json is pretty-printed; the benchmarks print
 * one line), writes figures.json and prints the table of figures, the checks that failed and the
 * results of every step. A file that is missing or not JSON becomes `{ error }` in the figures and
 * a line of the table, never a silent zero. Runs on plain node:
 * `node dist/scripts/device/summary.js <out folder> <API check> <GPU suite exit code>
 * [NCCL check] [prebuilt check]`; test/device-summary.test.ts runs it on sample outputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Json = Record<string, unknown>;

/** One check of gpu-check.json's `results` (scripts/device/gpu-check.ts, CheckResult). */
interface CheckResult {
  name: string;
  ok: boolean;
  maxError?: number;
  tolerance?: string;
  error?: string;
}

/** What check.sh knows besides the files: the results of the steps it ran itself. */
export interface StepResults {
  apiCheck: string;
  suiteExit: number;
  nccl?: string;
  prebuilt?: string;
}

export interface Figures {
  api_check: string;
  nccl_check: string | null;
  prebuilt_check: string | null;
  libraries: unknown;
  conv_algorithms: unknown;
  gpu_suite_exit: number;
  gpu_suite_passed: number;
  gpu_suite_total: number;
  gpu_suite_failed: CheckResult[];
  gpu_check_error: string | null;
  torch: Json;
  ours: Json;
}

/** The whole of `file` parsed as one JSON object, or `{ error }` saying why it could not be. */
export function readJson(file: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `${path.basename(file)}: ${(e as Error).message}` };
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
    return { error: `${path.basename(file)}: not a JSON object` };
  } catch (e) {
    return { error: `${path.basename(file)}: ${(e as Error).message}` };
  }
}

const isResult = (r: unknown): r is CheckResult =>
  typeof r === 'object' && r !== null && typeof (r as CheckResult).name === 'string';

/** The figures of one run of check.sh from the files in `out`. */
export function collectFigures(out: string, steps: StepResults): Figures {
  const check = readJson(path.join(out, 'gpu-check.json'));
  const results = Array.isArray(check.results) ? check.results.filter(isResult) : [];
  const checkError = check.error ?? check.skipped;
  return {
    api_check: steps.apiCheck,
    nccl_check: steps.nccl ?? null,
    prebuilt_check: steps.prebuilt ?? null,
    libraries: check.libraries ?? null,
    conv_algorithms: check.algorithms ?? null,
    gpu_suite_exit: steps.suiteExit,
    gpu_suite_passed: results.filter((r) => r.ok === true).length,
    gpu_suite_total: results.length,
    gpu_suite_failed: results.filter((r) => r.ok !== true),
    gpu_check_error: typeof checkError === 'string' ? checkError : null,
    torch: readJson(path.join(out, 'bench-torch.json')),
    ours: readJson(path.join(out, 'bench-ours.json')),
  };
}

const ROWS: [string, string][] = [
  ['train_images_per_s', 'train img/s (b128)'],
  ['train_no_lrn_images_per_s', 'train img/s no LRN'],
  ['lrn_ms', 'LRN fwd+bwd ms (b128)'],
  ['infer_images_per_s_b1', 'inference img/s (b1)'],
  ['infer_images_per_s_b128', 'inference img/s (b128)'],
  ['peak_bytes', 'peak memory (MiB)'],
];

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The lines check.sh prints last: the benchmark table, the failures, and one line per step. */
export function formatSummary(f: Figures): string[] {
  const lines = [
    '',
    `${''.padEnd(28)}${'ours'.padStart(14)}${'PyTorch'.padStart(14)}${'ratio'.padStart(8)}`,
  ];
  for (const [key, label] of ROWS) {
    const [a, b] = [num(f.ours[key]), num(f.torch[key])];
    if (a === null || b === null) {
      lines.push(`${label.padEnd(28)}${'-'.padStart(14)}${'-'.padStart(14)}`);
      continue;
    }
    const scale = key === 'peak_bytes' ? 2 ** 20 : 1;
    const cells = [(a / scale).toFixed(1).padStart(14), (b / scale).toFixed(1).padStart(14)];
    lines.push(`${label.padEnd(28)}${cells.join('')}${(a / b).toFixed(2).padStart(8)}`);
  }
  for (const [side, r] of [
    ['ours', f.ours],
    ['PyTorch', f.torch],
  ] as const) {
    const error = r.error === undefined ? '' : `; ERROR ${String(r.error)}`;
    lines.push(
      `${side}: loss ${String(r.first_loss ?? '-')} -> ${String(r.last_loss ?? '-')}${error}`,
    );
  }
  for (const r of f.gpu_suite_failed) {
    const detail = r.error ?? `max error ${r.maxError} (${r.tolerance ?? '?'})`;
    lines.push(`FAIL ${r.name}: ${detail}`);
  }
  if (f.gpu_check_error !== null) lines.push(`gpu-check: ${f.gpu_check_error}`);
  lines.push(
    `GPU suite: ${f.gpu_suite_passed}/${f.gpu_suite_total} passed (exit ${f.gpu_suite_exit}); ` +
      `API check: ${f.api_check}; NCCL check: ${f.nccl_check ?? '-'}; ` +
      `prebuilt check: ${f.prebuilt_check ?? '-'}; device: ${String(f.torch.device ?? '?')}`,
  );
  return lines;
}

export function main(args: string[]): number {
  const [out, apiCheck, suiteExit, nccl, prebuilt] = args;
  if (out === undefined || apiCheck === undefined || suiteExit === undefined) {
    console.error(
      'usage: summary.js <out folder> <API check> <GPU suite exit code> [NCCL check] [prebuilt check]',
    );
    return 2;
  }
  const figures = collectFigures(out, { apiCheck, suiteExit: Number(suiteExit), nccl, prebuilt });
  fs.writeFileSync(path.join(out, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  for (const line of formatSummary(figures)) console.log(line);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
