/**
 * `npm run bench -- predict`: inference of the bvlc AlexNet (227 x 227, 1000 classes) on the
 * CPU, ours against PyTorch's on the same machine in the same run, one after the other on the
 * same number of threads (PyTorch once per BLAS library its fc layers can run on, each in its
 * own process: torch-blas.ts):
 *
 * - forward-1: the network on one preprocessed image (latency);
 * - forward-N: the network on a batch of N images, 128 by default (throughput, images/s);
 * - classify-1: one JPEG end to end, decode and resize included (ours: `net.classify`, whose
 *   worker pool starts per call; PyTorch: Pillow, numpy and the network, in-process).
 *
 * Timing: one warm-up call, then calls until there are at least --min-reps of them and
 * --min-seconds have passed, and the median (the machine is shared: a job starting mid-run slows
 * some calls and leaves the middle one mostly alone). scripts/bench/torch_predict.py does the
 * same on its side. Weights and inputs are random, never zeros.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { AlexNetError } from '../../lib/errors';
import { native, packageRoot } from '../../lib/native';
import { AlexNet } from '../../lib/nn/alexnet';
import { Rng } from '../../lib/random';
import { Tensor } from '../../lib/tensor';
import { type Flags, parseFlags } from '../cli';
import {
  type BlasReport,
  checkTorchBlas,
  describeBlas,
  selectTorchBlas,
  TORCH_BLAS_FLAG,
  type TorchBlas,
  torchBlasEnv,
} from './torch-blas';

const USAGE = `Usage: npm run bench -- predict [options]

Times the bvlc AlexNet's inference on the CPU (one image, a batch, one JPEG end to end) against
PyTorch's (one process per BLAS library, see --torch-blas), and prints them with their ratios.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description: 'images in the throughput batch',
    default: '128',
    placeholder: 'n',
  },
  'min-reps': {
    type: 'string',
    description: 'timed calls at least',
    default: '5',
    placeholder: 'n',
  },
  'min-seconds': {
    type: 'string',
    description: 'seconds of timed calls at least, per case',
    default: '3',
    placeholder: 's',
  },
  python: {
    type: 'string',
    description: 'the interpreter with torch and Pillow',
    default: '/usr/bin/python3',
    placeholder: 'path',
  },
  'torch-blas': TORCH_BLAS_FLAG,
  help: { type: 'boolean', description: 'show this help' },
};

interface Timing {
  ms: number;
  reps: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function measure(run: () => unknown, minReps: number, minSeconds: number): Promise<Timing> {
  await run();
  const ms: number[] = [];
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  while (ms.length < minReps || elapsed() < minSeconds) {
    const t0 = process.hrtime.bigint();
    await run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(ms), reps: ms.length };
}

/** A 500 x 375 photograph-sized JPEG of smooth random colour fields (written to a temp file). */
function writeTestJpeg(file: string): void {
  const width = 500;
  const height = 375;
  const rng = new Rng(7);
  const phases = Array.from({ length: 9 }, () => rng.next() * 6.28);
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let y = 0; y < height; ++y) {
    for (let x = 0; x < width; ++x) {
      for (let c = 0; c < 3; ++c) {
        const v =
          Math.sin(x / 37 + phases[c]) +
          Math.cos(y / 23 + phases[c + 3]) +
          Math.sin((x + y) / 51 + phases[c + 6]);
        rgba[(y * width + x) * 4 + c] = Math.round(127.5 + 42 * v);
      }
    }
  }
  fs.writeFileSync(file, jpeg.encode({ data: rgba, width, height }, 90).data);
}

/** Our three cases, on the native backend's threads. */
async function timeOurs(
  batch: number,
  image: string,
  minReps: number,
  minSeconds: number,
): Promise<Map<string, Timing>> {
  const ours = new Map<string, Timing>();
  const net = new AlexNet({ preset: 'bvlc', classes: 1000, device: 'cpu', seed: 1 });
  try {
    const rng = new Rng(2);
    const input = (n: number) => {
      const x = Tensor.zeros([n, 3, 227, 227], 'cpu');
      x.write(Float32Array.from(rng.normal(n * 3 * 227 * 227, 1), (v) => 64 * v));
      return x;
    };
    const one = input(1);
    const many = input(batch);
    ours.set('forward-1', await measure(() => net.forward(one, 1), minReps, minSeconds));
    ours.set(
      `forward-${batch}`,
      await measure(() => net.forward(many, batch), minReps, minSeconds),
    );
    ours.set('classify-1', await measure(() => net.classify([image]), minReps, minSeconds));
    one.dispose();
    many.dispose();
  } finally {
    net.dispose();
  }
  return ours;
}

/** One PyTorch process's report: the line about itself, then its cases. */
interface TorchRun {
  blas: TorchBlas;
  hello: { torch: string; threads: number; mkldnn: boolean; blas: BlasReport };
  timings: Map<string, Timing>;
}

/** torch_predict.py's cases in a process of its own on the BLAS `blas` (checked). */
function timeTorch(python: string, blas: TorchBlas, args: string[], threads: number): TorchRun {
  const script = path.join(packageRoot(), 'scripts', 'bench', 'torch_predict.py');
  const torch = spawnSync(python, [script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: torchBlasEnv(blas, threads),
  });
  if (torch.status !== 0) {
    throw new AlexNetError(
      `${python} ${script} failed (exit ${torch.status}); see its output above`,
    );
  }
  const [first, ...rest] = torch.stdout.trim().split('\n');
  const hello = JSON.parse(first) as TorchRun['hello'];
  checkTorchBlas(blas, hello.blas, python);
  const cases = rest.map((l) => JSON.parse(l) as Timing & { case: string });
  return { blas, hello, timings: new Map(cases.map((c) => [c.case, { ms: c.ms, reps: c.reps }])) };
}

/** The table: ours, then each PyTorch and its ratio, a column pair per BLAS variant. */
function table(ours: Map<string, Timing>, torches: TorchRun[]): string {
  const rows = [...ours].map(([name, t]) => {
    const images = name.startsWith('forward-') ? Number(name.slice(8)) : 1;
    const cell = (x: Timing) =>
      `${x.ms.toFixed(1)} ms (${((1000 * images) / x.ms).toFixed(1)}/s, ${x.reps} reps)`;
    const theirs = torches.flatMap((run) => {
      const p = run.timings.get(name)!;
      return [cell(p), (p.ms / t.ms).toFixed(2)];
    });
    return `| ${[name, cell(t), ...theirs].join(' | ')} |`;
  });
  const titles = [
    'case',
    'ours',
    ...torches.flatMap(({ blas }) => [`PyTorch ${blas.name}`, `speed-up (${blas.name} ms / ours)`]),
  ];
  return [`| ${titles.join(' | ')} |`, `|${'---|'.repeat(titles.length)}`, ...rows].join('\n');
}

/** The bench; `argv` are its options. */
export async function benchPredict(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const batch = args.number('batch', positiveInt, 'positive integer')!;
  const minReps = args.number('min-reps', positiveInt, 'positive integer')!;
  const minSeconds = args.number('min-seconds', (n) => n >= 0, 'non-negative number')!;
  const python = args.string('python')!;
  const blas = selectTorchBlas(args.string('torch-blas'));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-'));
  const image = path.join(dir, 'photo.jpg');
  writeTestJpeg(image);
  const threads = native.cpuThreads;
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  console.log(
    `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs, ${threads} threads ` +
      `(GEMM ${native.gemmIsa}), load average ${load}, ${new Date().toISOString()}`,
  );
  const torchArgs = ['--image', image, '--threads', String(threads), '--batch', String(batch)];
  torchArgs.push('--min-reps', String(minReps), '--min-seconds', String(minSeconds));
  let ours: Map<string, Timing>;
  let torches: TorchRun[];
  try {
    ours = await timeOurs(batch, image, minReps, minSeconds);
    torches = blas.variants.map((b) => timeTorch(python, b, torchArgs, threads));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const { blas, hello } of torches) {
    console.log(
      `PyTorch ${blas.name}: ${hello.torch}, ${hello.threads} threads, oneDNN ${hello.mkldnn}, ` +
        `BLAS ${describeBlas(hello.blas)}`,
    );
  }
  for (const note of blas.notes) console.log(`note: ${note}`);
  console.log(table(ours, torches));
}
