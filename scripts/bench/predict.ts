/**
 * `npm run bench -- predict`: inference of the bvlc AlexNet (227 x 227, 1000 classes) on the
 * CPU, ours against PyTorch's on the same machine in the same run, one after the other on the
 * same number of threads:
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

const USAGE = `Usage: npm run bench -- predict [options]

Times the bvlc AlexNet's inference on the CPU (one image, a batch, one JPEG end to end) against
PyTorch's, and prints both with their ratio.`;

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

/** The bench; `argv` are its options. */
export async function benchPredict(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const batch = args.number('batch', positiveInt, 'positive integer')!;
  const minReps = args.number('min-reps', positiveInt, 'positive integer')!;
  const minSeconds = args.number('min-seconds', (n) => n >= 0, 'non-negative number')!;
  const python = args.string('python')!;

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

  const script = path.join(packageRoot(), 'scripts', 'bench', 'torch_predict.py');
  const torch = spawnSync(
    python,
    [script, '--image', image, '--threads', String(threads), '--batch', String(batch)].concat([
      '--min-reps',
      String(minReps),
      '--min-seconds',
      String(minSeconds),
    ]),
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  if (torch.status !== 0) {
    throw new AlexNetError(
      `${python} ${script} failed (exit ${torch.status}); see its output above`,
    );
  }
  const [hello, ...lines] = torch.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  console.log(`PyTorch ${hello.torch}, ${hello.threads} threads, oneDNN ${hello.mkldnn}`);
  const theirs = new Map<string, Timing>(lines.map((l) => [l.case, { ms: l.ms, reps: l.reps }]));

  const rows = [...ours].map(([name, t]) => {
    const p = theirs.get(name)!;
    const images = name.startsWith('forward-') ? Number(name.slice(8)) : 1;
    const rate = (ms: number) => ((1000 * images) / ms).toFixed(1);
    return `| ${name} | ${t.ms.toFixed(1)} ms (${rate(t.ms)}/s, ${t.reps} reps) | ${p.ms.toFixed(1)} ms (${rate(p.ms)}/s, ${p.reps} reps) | ${(p.ms / t.ms).toFixed(2)} |`;
  });
  console.log(
    ['| case | ours | PyTorch | speed-up (PyTorch ms / ours) |', '|---|---|---|---|', ...rows].join(
      '\n',
    ),
  );
}
