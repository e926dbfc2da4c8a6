/**
 * `npm run bench -- train`: training images/s of the bvlc AlexNet on our CPU backend, a whole
 * step (forward with dropout, loss, backward, SGD with momentum and weight decay), training
 * every layer and only fc6-fc8 (transfer learning), side by side with PyTorch in the same run,
 * once per BLAS library PyTorch can run its fc layers on (torch-blas.ts). Ours and each PyTorch's
 * timings of a configuration are taken one right after the other, so load from other work falls
 * on all alike. Ratio = PyTorch time / our time: above 1 means we are faster.
 */
import * as fs from 'node:fs';
import { AlexNetError } from '../../lib/errors';
import { Rng } from '../../lib/random';
import { type Flags, parseFlags } from '../cli';
import { CLASSES, INPUT_SIZE, OPS, trainCase } from './cases';
import { describeMachine, type Machine } from './machine';
import { oursCase } from './ours';
import { measure, measureAsync, type Timing } from './timing';
import { type BlasPeer, describeTorch, PYTHON_CANDIDATES, TorchPeer } from './torch';
import { selectTorchBlas, TORCH_BLAS_FLAG, type TorchBlasName } from './torch-blas';

const USAGE = `Usage: npm run bench -- train [options]

Times a whole bvlc AlexNet training step (${CLASSES} classes, input ${INPUT_SIZE}) on our CPU backend
and in PyTorch (python3 with torch; one process per BLAS library, see --torch-blas), training all
layers and only fc6-fc8. Ratio = PyTorch time / our time: above 1 means we are faster.`;

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
  'torch-blas': TORCH_BLAS_FLAG,
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
  optimizer: 'sgd' | 'adam';
  ours: Timing & { imagesPerSecond: number };
  /** The same step through the Promise API (compute off the event loop's thread). */
  oursAsync: Timing & { imagesPerSecond: number };
  /** PyTorch's step on each BLAS variant it ran on. */
  torch: Partial<Record<TorchBlasName, Timing & { imagesPerSecond: number }>>;
}

type Print = (line: string) => void;

type Settings = ReturnType<typeof parseSettings>;

function parseSettings(argv: string[]) {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0)
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const batches = args.numbers('batch', positiveInt, 'comma-separated positive integers')!;
  const timing = {
    minReps: args.number('reps', positiveInt, 'positive integer')!,
    minSeconds: args.number('min-seconds', (n) => n >= 0, 'non-negative number')!,
  };
  const wantTorch = !args.flag('no-torch');
  const blas = wantTorch ? selectTorchBlas(args.string('torch-blas')) : { variants: [], notes: [] };
  return { batches, timing, wantTorch, blas, json: args.string('json') };
}

/** The lines above the table: the machine, each side's setup (a PyTorch line per BLAS), notes. */
function header(s: Settings, machine: Machine, torches: BlasPeer[] | null, print: Print): void {
  print(
    `AlexNet training-step bench (bvlc preset, ${CLASSES} classes, input ${INPUT_SIZE}), ${machine.date}`,
  );
  print(
    `machine: ${machine.cpu}, ${machine.cores} logical CPUs; load average ${machine.loadAverage.join(' ')}`,
  );
  print(
    `ours: alexnet-cudnn ${machine.alexnet}, CPU backend on ${machine.threads} threads, GEMM ${machine.gemmIsa}, convolutions ${machine.convAlgorithm}`,
  );
  for (const torch of torches ?? []) print(describeTorch(torch));
  for (const note of s.blas.notes) print(`note: ${note}`);
  if (!torches && s.wantTorch)
    print(`note: none of ${PYTHON_CANDIDATES.join(', ')} can import torch; its columns are empty`);
  print(
    `timing: median of at least ${s.timing.minReps} steps and ${s.timing.minSeconds} s after a warm-up step\n`,
  );
  const names = columns(torches ?? []);
  print(names.join(' | '));
  print(names.map((name) => '-'.repeat(name.length)).join(' | '));
}

/** The table's column titles: two per PyTorch, named by its BLAS variant. */
function columns(torches: BlasPeer[]): string[] {
  return [
    'batch',
    'layers      ',
    'ours img/s',
    'ours async img/s',
    'async / blocking',
    ...torches.flatMap(({ blas }) => [`PyTorch ${blas.name} img/s`, `${blas.name} time / ours`]),
  ];
}

function formatRow(row: Row, torches: BlasPeer[]): string {
  const cells = [
    String(row.batch),
    (row.layers === 'all' ? 'all' : 'fc6-fc8') + (row.optimizer === 'adam' ? ' adam' : ''),
    row.ours.imagesPerSecond.toFixed(1),
    row.oursAsync.imagesPerSecond.toFixed(1),
    (row.ours.ms / row.oursAsync.ms).toFixed(3),
    ...torches.flatMap(({ blas }) => {
      const t = row.torch[blas.name]!;
      return [t.imagesPerSecond.toFixed(1), (t.ms / row.ours.ms).toFixed(2)];
    }),
  ];
  const widths = columns(torches).map((name) => name.length);
  return cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
}

/** One configuration: ours (blocking, then async), then each PyTorch right after. */
async function benchCase(
  batch: number,
  layers: 'all' | 'fc',
  optimizer: 'sgd' | 'adam',
  s: Settings,
  torches: BlasPeer[],
  rng: Rng,
): Promise<Row> {
  const c = trainCase(batch, layers, optimizer);
  const ours = oursCase(c, rng);
  let oursTiming: Timing;
  let asyncTiming: Timing;
  try {
    oursTiming = measure(ours.ops.step, s.timing);
    asyncTiming = await measureAsync(ours.asyncOps.step, s.timing);
  } finally {
    ours.dispose();
  }
  const withRate = (t: Timing) => ({ ...t, imagesPerSecond: (1000 * batch) / t.ms });
  const torch: Row['torch'] = {};
  for (const { blas, peer } of torches) {
    torch[blas.name] = withRate(await peer.time(c, 'step', s.timing));
  }
  return {
    batch,
    layers,
    optimizer,
    ours: withRate(oursTiming),
    oursAsync: withRate(asyncTiming),
    torch,
  };
}

export async function main(argv: string[]): Promise<void> {
  const s = parseSettings(argv);
  const machine = describeMachine();
  const torches = s.wantTorch
    ? await TorchPeer.startEach(machine.threads, Object.keys(OPS), s.blas.variants)
    : [];
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const rows: Row[] = [];
  try {
    header(s, machine, torches, print);
    const rng = new Rng(1);
    for (const batch of s.batches) {
      // The tutorial's recipe last: fc6-fc8 with Adam.
      const configurations = [
        ['all', 'sgd'],
        ['fc', 'sgd'],
        ['fc', 'adam'],
      ] as const;
      for (const [layers, optimizer] of configurations) {
        const row = await benchCase(batch, layers, optimizer, s, torches ?? [], rng);
        rows.push(row);
        print(formatRow(row, torches ?? []));
      }
    }
  } finally {
    for (const { peer } of torches ?? []) peer.close();
  }
  if (s.json) {
    const torch = (torches ?? []).map(({ peer }) => peer.info);
    const report = { machine, torch, timing: s.timing, notes: s.blas.notes, rows };
    fs.writeFileSync(s.json, `${JSON.stringify(report, null, 2)}\n`);
    print(`\nresults written to ${s.json}`);
  }
}
