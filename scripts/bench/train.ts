/**
 * `npm run bench -- train`: training images/s of the bvlc AlexNet on our CPU backend, a whole
 * step (forward with dropout, loss, backward, SGD with momentum and weight decay), training
 * every layer and only fc6-fc8 (transfer learning), side by side with PyTorch in the same run.
 * Ours and PyTorch's timings of each configuration are taken one right after the other, so load
 * from other work falls on both alike. Ratio = PyTorch time / our time: above 1 means we are
 * faster.
 */
import * as fs from 'node:fs';
import { AlexNetError } from '../../lib/errors';
import { Rng } from '../../lib/random';
import { type Flags, parseFlags } from '../cli';
import { CLASSES, INPUT_SIZE, OPS, trainCase } from './cases';
import { describeMachine } from './machine';
import { oursCase } from './ours';
import { measure, measureAsync, type Timing } from './timing';
import { PYTHON_CANDIDATES, TorchPeer } from './torch';

const USAGE = `Usage: npm run bench -- train [options]

Times a whole bvlc AlexNet training step (${CLASSES} classes, input ${INPUT_SIZE}) on our CPU backend
and in PyTorch (python3 with torch), training all layers and only fc6-fc8. Ratio = PyTorch time /
our time: above 1 means we are faster.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description: 'comma-separated batch sizes',
    default: '16,128',
    placeholder: 'list',
  },
  reps: {
    type: 'string',
    description: 'timed steps per configuration at least, after a warm-up step',
    default: '3',
    placeholder: 'n',
  },
  'min-seconds': {
    type: 'string',
    description: 'seconds of timed steps at least; the median step is reported',
    default: '2',
    placeholder: 's',
  },
  'no-torch': { type: 'boolean', description: 'skip PyTorch' },
  json: {
    type: 'string',
    description: 'also write the results as JSON to this file',
    placeholder: 'file',
  },
  help: { type: 'boolean', description: 'show this help' },
};

interface Row {
  batch: number;
  layers: 'all' | 'fc';
  ours: Timing & { imagesPerSecond: number };
  /** The same step through the Promise API (compute off the event loop's thread). */
  oursAsync: Timing & { imagesPerSecond: number };
  torch: (Timing & { imagesPerSecond: number }) | null;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0)
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  const batches = args
    .string('batch')!
    .split(',')
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1)
        throw new AlexNetError(`Expected positive integers for --batch but received '${s}'`);
      return n;
    });
  const timing = {
    minReps: args.number('reps', (n) => Number.isInteger(n) && n > 0, 'positive integer')!,
    minSeconds: args.number('min-seconds', (n) => n >= 0, 'non-negative number')!,
  };
  const machine = describeMachine();
  const torch = args.flag('no-torch')
    ? null
    : await TorchPeer.start(machine.threads, Object.keys(OPS));
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(
    `AlexNet training-step bench (bvlc preset, ${CLASSES} classes, input ${INPUT_SIZE}), ${machine.date}`,
  );
  print(
    `machine: ${machine.cpu}, ${machine.cores} logical CPUs; load average ${machine.loadAverage.join(' ')}`,
  );
  print(
    `ours: alexnet-cudnn ${machine.alexnet}, CPU backend on ${machine.threads} threads, GEMM ${machine.gemmIsa}`,
  );
  if (torch)
    print(
      `PyTorch: ${torch.info.torch}, ${torch.info.threads} threads, oneDNN ${torch.info.mkldnn ? 'yes' : 'no'}, BLAS ${torch.info.blas}`,
    );
  else if (!args.flag('no-torch'))
    print(`note: none of ${PYTHON_CANDIDATES.join(', ')} can import torch; its column is empty`);
  print(
    `timing: median of at least ${timing.minReps} steps and ${timing.minSeconds} s after a warm-up step\n`,
  );
  print(
    'batch | layers  | ours img/s | ours async img/s | async / blocking | PyTorch img/s | PyTorch time / ours',
  );
  print(
    '----- | ------- | ---------- | ---------------- | ---------------- | ------------- | -------------------',
  );

  const rows: Row[] = [];
  const rng = new Rng(1);
  try {
    for (const batch of batches) {
      for (const layers of ['all', 'fc'] as const) {
        const c = trainCase(batch, layers);
        const ours = oursCase(c, rng);
        let oursTiming: Timing;
        let asyncTiming: Timing;
        try {
          oursTiming = measure(ours.ops.step, timing);
          asyncTiming = await measureAsync(ours.asyncOps.step, timing);
        } finally {
          ours.dispose();
        }
        const torchTiming = torch ? await torch.time(c, 'step', timing) : null;
        const withRate = (t: Timing) => ({ ...t, imagesPerSecond: (1000 * batch) / t.ms });
        const row: Row = {
          batch,
          layers,
          ours: withRate(oursTiming),
          oursAsync: withRate(asyncTiming),
          torch: torchTiming && withRate(torchTiming),
        };
        rows.push(row);
        print(
          `${String(batch).padStart(5)} | ${(layers === 'all' ? 'all' : 'fc6-fc8').padEnd(7)} | ` +
            `${row.ours.imagesPerSecond.toFixed(1).padStart(10)} | ` +
            `${row.oursAsync.imagesPerSecond.toFixed(1).padStart(16)} | ` +
            `${(row.ours.ms / row.oursAsync.ms).toFixed(3).padStart(16)} | ` +
            `${(row.torch ? row.torch.imagesPerSecond.toFixed(1) : '-').padStart(13)} | ` +
            `${row.torch ? (row.torch.ms / row.ours.ms).toFixed(2) : '-'}`,
        );
      }
    }
  } finally {
    torch?.close();
  }
  const json = args.string('json');
  if (json) {
    fs.writeFileSync(
      json,
      `${JSON.stringify({ machine, torch: torch?.info ?? null, timing, rows }, null, 2)}\n`,
    );
    print(`\nresults written to ${json}`);
  }
}
