/**
 * `doctor()`: what this machine and package have (lib/doctor/environment.ts), then a check of
 * every backend that can run: the CPU against float64 references (lib/doctor/cpu-checks.ts), and
 * on every usable GPU each op against the CPU backend (op-checks.ts), the small AlexNet's calls
 * and a few training steps against the CPU (model-checks.ts) and the time of a bvlc batch-128
 * training step (step-time.ts). The report is what `alexnet doctor --json` writes for a bug
 * report; `ok` is true only when every check passed and every GPU found is usable.
 */
import { Rng } from '../random';
import type { Device } from '../tensor';
import { type CheckResult, guarded } from './compare';
import { runCpuChecks } from './cpu-checks';
import { type Environment, environment } from './environment';
import { runModelChecks } from './model-checks';
import { runOpChecks } from './op-checks';
import { type StepTime, timeBvlcStep } from './step-time';

export interface DoctorOptions {
  /** Seed of every check's random inputs. @default 1 */
  seed?: number;
  /** Time a training step of the bvlc AlexNet at batch 128 on each GPU. @default true */
  timeStep?: boolean;
  /** Called before each device's checks begin (for a progress line). */
  onDevice?: (device: Device) => void;
}

export interface DeviceReport {
  device: Device;
  results: CheckResult[];
  /** The bvlc batch-128 training step on a GPU, when timed and it ran. */
  step?: StepTime;
  /** Why timing the step failed, when it did (a failure of the device). */
  stepError?: string;
  seconds: number;
}

export interface DoctorReport {
  environment: Environment;
  seed: number;
  devices: DeviceReport[];
  ok: boolean;
  /** One line: what passed or what failed. */
  verdict: string;
}

async function checkGpu(device: Device, seed: number, timeStep: boolean): Promise<DeviceReport> {
  const start = performance.now();
  const results = [...(await runOpChecks(device, seed)), ...(await runModelChecks(device, seed))];
  const report: DeviceReport = { device, results, seconds: 0 };
  if (timeStep) {
    try {
      report.step = await timeBvlcStep(device, seed);
    } catch (error) {
      report.stepError = `${(error as Error).name}: ${(error as Error).message}`;
    }
  }
  report.seconds = (performance.now() - start) / 1000;
  return report;
}

/** The verdict line and whether everything passed. */
function verdict(env: Environment, devices: DeviceReport[]): { ok: boolean; verdict: string } {
  const failed = devices.flatMap((d) =>
    d.results.filter((r) => !r.ok).map((r) => `${d.device} ${r.name}`),
  );
  failed.push(...devices.filter((d) => d.stepError).map((d) => `${d.device} bvlc step`));
  const unusable = env.gpus.filter((g) => g.unusable !== '');
  const total = devices.reduce((n, d) => n + d.results.length, 0);
  const problems = [
    ...unusable.map((g) => `${g.device} (${g.name}) is not usable: ${g.unusable.split('\n')[0]}`),
    ...(failed.length > 0
      ? [`${failed.length} of ${total} checks FAILED: ${failed.slice(0, 5).join(', ')}`]
      : []),
  ];
  if (problems.length > 0) return { ok: false, verdict: `NOT OK: ${problems.join('; ')}` };
  const where = devices.map((d) => d.device).join(', ');
  const gpu = env.gpus.length === 0 ? ` (no GPU: ${env.noGpu})` : '';
  return { ok: true, verdict: `OK: all ${total} checks passed on ${where}${gpu}` };
}

/**
 * Reports what was found and checks every backend that can run here: under a minute with a
 * GPU, a fraction of a second without.
 */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const seed = options.seed ?? 1;
  const env = environment();
  const devices: DeviceReport[] = [];
  options.onDevice?.('cpu');
  const start = performance.now();
  const cpu = await guarded('cpu checks', () => runCpuChecks(new Rng(seed)));
  devices.push({ device: 'cpu', results: cpu, seconds: (performance.now() - start) / 1000 });
  for (const gpu of env.gpus.filter((g) => g.unusable === '')) {
    options.onDevice?.(gpu.device);
    devices.push(await checkGpu(gpu.device, seed, options.timeStep ?? true));
  }
  return { environment: env, seed, devices, ...verdict(env, devices) };
}
