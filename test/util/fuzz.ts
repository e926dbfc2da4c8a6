/**
 * Property-based fuzzing of the parsers that read files from outside (fast-check). Each target
 * runs a parser on generated inputs for a time budget and holds it to three properties:
 *
 * - it returns, or throws an AlexNetError (our typed errors) whose message names the file:
 *   a TypeError, RangeError (a failed huge allocation, a stack overflow) or any other error
 *   fails the case;
 * - one case uses at most `caseCpuMilliseconds` of CPU time (no hang, no quadratic blow-up).
 *   CPU time, not wall time: on a shared machine a case may wait seconds for a core, and a
 *   hang in a parser is a loop that burns CPU;
 * - one case raises the process's peak resident memory by at most `caseMegabytes` (no
 *   allocation sized by a number read from the file rather than by the file). The peak is
 *   Linux's VmHWM, reset before each case through /proc/self/clear_refs (proc(5), "5"); where
 *   that file cannot be written the memory property is not checked, and the summary says so.
 *
 * Budgets: ALEXNET_FUZZ_SECONDS per target (default 3, the quick run of `npm test`; `npm run fuzz`
 * sets 60). A failure reports the first failing input (not shrunk: shrinking a slow case takes
 * minutes) and its seed; ALEXNET_TEST_SEED=<that seed> replays it. Cases run per target are
 * printed at the end.
 */
import * as fs from 'node:fs';
import fc from 'fast-check';
import { AlexNetError } from '../../lib/errors';

export interface FuzzLimits {
  /** Most CPU time (user + system, all threads) one case may use. @default 2000 */
  caseCpuMilliseconds?: number;
  /** Most one case may add to the peak resident memory. @default 256 */
  caseMegabytes?: number;
}

export interface FuzzResult {
  target: string;
  cases: number;
  seconds: number;
  memoryChecked: boolean;
}

export function fuzzSeconds(): number {
  const text = process.env.ALEXNET_FUZZ_SECONDS;
  const seconds = text === undefined ? 3 : Number(text);
  if (!(seconds > 0)) {
    throw new Error(`Expected positive number for ALEXNET_FUZZ_SECONDS but received ${text}`);
  }
  return seconds;
}

/** Cases per fast-check run; the budget is checked between runs. */
const BATCH_CASES = 50;

const CLEAR_REFS = '/proc/self/clear_refs';
/** Whether the peak can be reset here (Linux; a sandbox may refuse the write). */
const canMeasurePeak = (() => {
  try {
    fs.writeFileSync(CLEAR_REFS, '5');
    return true;
  } catch {
    return false;
  }
})();

/** Peak resident memory in MiB since the last reset (VmHWM of /proc/self/status). */
function peakMegabytes(): number {
  const status = fs.readFileSync('/proc/self/status', 'latin1');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

function residentMegabytes(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

const DEFAULT_LIMITS: Required<FuzzLimits> = { caseCpuMilliseconds: 2000, caseMegabytes: 256 };

/** Why a case failed, or '' when it kept every property. */
export async function checkCase(
  run: () => unknown,
  file: string,
  limits: FuzzLimits = {},
): Promise<string> {
  const full = { ...DEFAULT_LIMITS, ...limits };
  if (canMeasurePeak) fs.writeFileSync(CLEAR_REFS, '5');
  const before = residentMegabytes();
  const cpu = process.cpuUsage();
  let problem = '';
  try {
    await run();
  } catch (error) {
    if (!(error instanceof AlexNetError)) {
      problem = `threw ${(error as Error)?.name ?? typeof error}, not a typed error: ${String(error)}`;
    } else if (!error.message.includes(file)) {
      problem = `threw "${error.message}", which does not name ${file}`;
    }
  }
  const used = process.cpuUsage(cpu);
  const milliseconds = (used.user + used.system) / 1000;
  if (!problem && milliseconds > full.caseCpuMilliseconds) {
    problem = `used ${milliseconds.toFixed(0)} ms of CPU (limit ${full.caseCpuMilliseconds} ms)`;
  }
  const grown = canMeasurePeak ? peakMegabytes() - before : 0;
  if (!problem && grown > full.caseMegabytes) {
    problem = `raised peak memory by ${grown.toFixed(0)} MiB (limit ${full.caseMegabytes} MiB)`;
  }
  return problem;
}

/**
 * Runs `parse` on each input of `corpus`, then on inputs from `inputs` for the time budget,
 * starting from `seed`. `parse` receives an input and the file name its errors must carry. Throws fast-check's report (the
 * input, the seed to replay) when a case breaks a property.
 */
export async function fuzz<T>(
  target: string,
  inputs: fc.Arbitrary<T>,
  parse: (input: T, file: string) => unknown,
  seed: number,
  limits: FuzzLimits = {},
  corpus: readonly T[] = [],
): Promise<FuzzResult> {
  const file = `fuzz-${target}-input`;
  const property = fc.asyncProperty(inputs, async (input) => {
    const problem = await checkCase(() => parse(input, file), file, limits);
    if (problem) throw new Error(`${target}: ${problem}`);
  });
  const budget = fuzzSeconds() * 1000;
  const start = performance.now();
  let cases = 0;
  // Batches of cases until the budget is spent, rather than fast-check's time-limit plugin: that
  // drops the result of the case in flight when time runs out, so a hang in the last case of a
  // run would pass. Batch b runs from seed + b; the corpus runs first, in batch 0.
  for (let batch = 0; batch === 0 || performance.now() - start < budget; ++batch) {
    const details = await fc.check(property, {
      seed: (seed + batch) | 0,
      examples: batch === 0 ? corpus.map((input) => [input] as [T]) : [],
      numRuns: BATCH_CASES,
      // Shrinking a slow case can take minutes; the report keeps the first failing case.
      endOnFailure: true,
    });
    cases += details.numRuns;
    if (details.failed) {
      const why = details.errorInstance instanceof Error ? details.errorInstance.message : '';
      throw new Error(`${why}\n${fc.defaultReportMessage(details) ?? `${target} failed`}`);
    }
  }
  return {
    target,
    cases,
    seconds: (performance.now() - start) / 1000,
    memoryChecked: canMeasurePeak,
  };
}
