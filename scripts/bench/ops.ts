/**
 * `npm run bench -- ops`: every op of a bvlc AlexNet training step at its real shape, and the
 * whole evaluation forward pass, timed on our CPU backend and, in the same run, in PyTorch (one
 * process per BLAS library its fc layers can run on, torch-blas.ts) and onnxruntime-node where
 * they are installed. Each op alternates ours and each PyTorch for a few rounds, and the whole
 * forward pass all of them, so that load from other work on the machine falls on both sides of a
 * ratio alike, and a burst of it on one round only. Ratios are peer time / our time: above 1
 * means we are faster.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AlexNetError } from '../../lib/errors';
import { native } from '../../lib/native';
import { Rng } from '../../lib/random';
import { type Flags, parseFlags } from '../cli';
import { CLASSES, forwardCase, INPUT_SIZE, OPS, type OpCase, opCases, opFlops } from './cases';
import { describeMachine, type Machine } from './machine';
import { fastestVariant, ORT_VARIANTS, OrtPeer, variantName } from './ort';
import { INPUT_STD, oursCase } from './ours';
import {
  measure,
  measureAsync,
  overRounds,
  type RoundsTiming,
  SideRounds,
  type Timing,
  type TimingOptions,
} from './timing';
import {
  type BlasPeer,
  describeTorch,
  TORCH_MISSING,
  TorchPeer,
  torchTiming,
  torchTimings,
} from './torch';
import { selectTorchBlas, TORCH_BLAS_FLAG, type TorchBlasName } from './torch-blas';

const USAGE = `Usage: npm run bench -- ops [options]

Times each op of the bvlc AlexNet (conv1-conv5 forward, backward-data and backward-filter, bias,
ReLU, LRN, max-pool, the fc GEMMs, dropout, softmax cross-entropy, the SGD update) and the whole
forward pass on our CPU backend, and the same in PyTorch (python3 with torch; one process per BLAS
library, see --torch-blas) and onnxruntime-node where installed, alternating them. Ratios are
peer time / our time: above 1 means we are faster.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description: 'comma-separated batch sizes',
    default: '16,128',
    placeholder: 'list',
  },
  reps: {
    type: 'string',
    description: 'timed calls per op and round at least, after one warm-up call',
    default: '3',
    placeholder: 'n',
  },
  'min-seconds': {
    type: 'string',
    description: "seconds of timed calls per op and round at least; the median call is the round's",
    default: '1',
    placeholder: 's',
  },
  rounds: {
    type: 'string',
    description:
      'alternations of ours, PyTorch and onnxruntime-node for each op and the whole forward pass; each side reports its median round',
    default: '3',
    placeholder: 'n',
  },
  only: {
    type: 'string',
    description:
      "comma-separated rows to time: op groups (conv1, bias, norm1, fc6, sgd, ...) or 'forward'",
    placeholder: 'list',
  },
  'no-torch': {
    type: 'boolean',
    description: 'skip the PyTorch timings (PyTorch still exports the model for onnxruntime-node)',
  },
  'torch-blas': TORCH_BLAS_FLAG,
  'no-ort': { type: 'boolean', description: 'skip onnxruntime-node' },
  json: {
    type: 'string',
    description: 'also write the results as JSON to this file',
    placeholder: 'file',
  },
  help: { type: 'boolean', description: 'show this help' },
};

/** The row of the whole forward pass, as --only names it. */
const FORWARD = 'forward';

interface OpResult {
  group: string;
  op: string;
  ours: RoundsTiming;
  /** Our GFLOP/s, where a matrix product dominates the op (cases.ts, opFlops). */
  gflops: number | null;
  /** Each PyTorch's timing by BLAS variant; null where it failed. */
  torch: Partial<Record<TorchBlasName, RoundsTiming | null>>;
}

interface ForwardSide {
  /** Median over the rounds of each round's median batch time. */
  ms: number;
  imagesPerSecond: number;
  /** Each round's median, in run order. */
  rounds: Timing[];
}

interface BatchResult {
  batch: number;
  /** 1, 5 and 15 minute load averages when the batch size was done. */
  loadAverage: number[];
  ops: OpResult[];
  forward: ForwardResult | null;
}

/** The whole forward pass, each side's median round. */
interface ForwardResult {
  ours: ForwardSide;
  torch: Partial<Record<TorchBlasName, ForwardSide | null>>;
  /**
   * Each onnxruntime-node variant (ort.ts, ORT_VARIANTS) by name, and the fastest, against which
   * the ratio is taken; null where onnxruntime-node was not timed.
   */
  ort: { variants: Record<string, ForwardSide | null>; fastest: string | null } | null;
}

interface Settings {
  batches: number[];
  timing: TimingOptions;
  rounds: number;
  /** The rows to time; null for all. */
  only: Set<string> | null;
  wantTorch: boolean;
  /** The BLAS variants to time PyTorch on, and why any installed one is left out. */
  blas: ReturnType<typeof selectTorchBlas>;
  wantOrt: boolean;
  json: string | undefined;
}

function parseList(flag: string, raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new AlexNetError(`Expected a comma-separated list for --${flag} but received '${raw}'`);
  }
  return items;
}

function parseSettings(argv: string[]): Settings {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const batches = args.numbers('batch', positiveInt, 'comma-separated positive integers')!;
  let only: Set<string> | null = null;
  if (args.given('only')) {
    const known = [...opCases(1).map((c) => c.group), FORWARD];
    only = new Set(parseList('only', args.string('only')!));
    for (const name of only) {
      if (!known.includes(name)) {
        throw new AlexNetError(
          `Expected one of ${known.join(', ')} in --only but received '${name}'`,
        );
      }
    }
  }
  return {
    batches,
    timing: {
      minReps: args.number('reps', positiveInt, 'positive integer')!,
      minSeconds: args.number('min-seconds', (n) => n >= 0, 'non-negative number')!,
    },
    rounds: args.number('rounds', positiveInt, 'positive integer')!,
    only,
    wantTorch: !args.flag('no-torch'),
    blas: args.flag('no-torch')
      ? { variants: [], notes: [] }
      : selectTorchBlas(args.string('torch-blas')),
    wantOrt: !args.flag('no-ort'),
    json: args.string('json'),
  };
}

/** The peers of one run and how to reach them. */
interface Peers {
  /** PyTorch for timings, one per BLAS variant (none under --no-torch). */
  torch: BlasPeer[];
  /** Null where absent or not wanted. */
  ort: OrtPeer | null;
}

/** What the rows of every batch size share. */
interface Bench {
  s: Settings;
  peers: Peers;
  /** The machine's peak GFLOP/s, measured once per run (% peak is of it). */
  peakGflops: number;
  /** GB/s of a streaming read on our threads, measured once per run: the fc layers' floor. */
  bandwidth: number;
  /** Makes the inputs. */
  rng: Rng;
  print: (line: string) => void;
}

function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(1);
  return ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

/** peer / ours: above 1 means we are faster. */
function formatRatio(peer: Timing | ForwardSide | null, ours: Timing | ForwardSide): string {
  return peer ? (peer.ms / ours.ms).toFixed(2) : '';
}

/** The table's column titles: two per PyTorch, named by its BLAS variant. */
function columns(peers: Peers): string[] {
  return [
    'op',
    'ours ms',
    'GFLOP/s',
    '% peak',
    ...peers.torch.flatMap(({ blas }) => [`${blas.name} ms`, `${blas.name}/ours`]),
    'ort ms',
    'ort/ours',
  ];
}

function tableRow(titles: string[], cells: string[]): string {
  return cells
    .map((cell, i) =>
      i === 0 ? cell.padEnd(22) : cell.padStart(Math.max(11, titles[i].length + 2)),
    )
    .join('')
    .trimEnd();
}

/** GFLOP/s of `flops` done in `ms`; null where the op's count is not defined. */
function gflops(flops: number | null, ms: number): number | null {
  return flops === null ? null : flops / ms / 1e6;
}

/** Our speed's cells: GFLOP/s and its fraction of the machine's peak. */
function speedCells(speed: number | null, peakGflops: number): string[] {
  if (speed === null) return ['', ''];
  return [speed.toFixed(0), `${((100 * speed) / peakGflops).toFixed(0)}%`];
}

function header(
  machine: Machine,
  peakGflops: number,
  peers: Peers,
  ort: string | null,
  s: Settings,
): string {
  const lines = [
    `AlexNet op bench (bvlc preset, ${CLASSES} classes, input ${INPUT_SIZE}), ${machine.date}`,
    `machine: ${machine.cpu}, ${machine.cores} logical CPUs, ${machine.memoryGiB} GiB, ${machine.os}; ` +
      `load average ${machine.loadAverage.join(' ')}`,
    `ours: alexnet-cudnn ${machine.alexnet}, Node ${machine.node}, CPU backend on ${machine.threads} ` +
      `threads, GEMM ${machine.gemmIsa}, convolutions ${machine.convAlgorithm}`,
    `peak: ${peakGflops.toFixed(0)} GFLOP/s, fused multiply-adds on registers on ${machine.threads} ` +
      `threads with the ${machine.gemmIsa} kernel's instructions (% peak is of this)`,
  ];
  lines.push(...peers.torch.map(describeTorch));
  if (ort) {
    lines.push(
      `onnxruntime-node: ${ort}, ${machine.threads} intra-op threads, variants ` +
        `${ORT_VARIANTS.map(variantName).join(', ')}; ort/ours is the fastest variant's`,
    );
  }
  lines.push(
    `timing: median of at least ${s.timing.minReps} calls and ${s.timing.minSeconds} s per round ` +
      `after a warm-up call; each op and the whole forward pass in ${s.rounds} alternating ` +
      'rounds, each side the median of its rounds',
  );
  return `${lines.join('\n')}\n`;
}

/** The cells after ours of a row: each PyTorch's time and ratio, then onnxruntime-node's. */
function peerCells(
  peers: Peers,
  ours: Timing | ForwardSide,
  torch: Partial<Record<TorchBlasName, Timing | ForwardSide | null>>,
  ort: ForwardSide | null,
): string[] {
  const cells = (peer: Timing | ForwardSide | null) => [
    peer ? formatMs(peer.ms) : '',
    formatRatio(peer, ours),
  ];
  const torchCells = peers.torch.flatMap(({ blas }) => cells(torch[blas.name] ?? null));
  return ort ? [...torchCells, ...cells(ort)] : torchCells;
}

function forwardSide(batch: number, rounds: (Timing | null)[]): ForwardSide | null {
  const side = overRounds(rounds);
  return side && { ms: side.ms, imagesPerSecond: (1000 * batch) / side.ms, rounds: side.rounds };
}

/** One op's timings: ours, then each PyTorch right after, s.rounds times. */
async function opRounds(
  run: () => void,
  opCase: OpCase,
  op: string,
  { s, peers }: Bench,
): Promise<Pick<OpResult, 'ours' | 'torch'>> {
  const ours: Timing[] = [];
  const torch = new SideRounds();
  for (let r = 0; r < s.rounds; ++r) {
    ours.push(measure(run, s.timing));
    torch.add(await torchTimings(peers.torch, opCase, op, s.timing));
  }
  return { ours: overRounds(ours)!, torch: torch.result() };
}

/** Each op's row, timed in rounds (opRounds). */
async function benchOps(batch: number, bench: Bench): Promise<OpResult[]> {
  const { s, peers, peakGflops, rng, print } = bench;
  const titles = columns(peers);
  const ops: OpResult[] = [];
  for (const opCase of opCases(batch)) {
    if (s.only && !s.only.has(opCase.group)) continue;
    const ours = oursCase(opCase, rng);
    const flops = opFlops(opCase);
    try {
      for (const op of OPS[opCase.kind]) {
        const timings = await opRounds(ours.ops[op], opCase, op, bench);
        const result = {
          group: opCase.group,
          op,
          ...timings,
          gflops: gflops(flops, timings.ours.ms),
        };
        ops.push(result);
        const cells = peerCells(peers, result.ours, result.torch, null);
        const speed = speedCells(result.gflops, peakGflops);
        print(
          tableRow(titles, [`${opCase.group}.${op}`, formatMs(result.ours.ms), ...speed, ...cells]),
        );
      }
    } finally {
      ours.dispose();
    }
  }
  return ops;
}

/** Each round's timings of the whole forward pass, by side. */
interface ForwardRounds {
  ours: Timing[];
  /** One list per PyTorch, in the order of peers.torch. */
  torch: (Timing | null)[][];
  /** One list per onnxruntime-node variant, by its name. */
  ort: Record<string, Timing[]>;
}

/** The whole forward pass: ours, each PyTorch and each onnxruntime-node variant in turn, s.rounds times. */
async function forwardRounds(batch: number, bench: Bench): Promise<ForwardRounds> {
  const { s, peers, rng } = bench;
  const opCase = forwardCase(batch);
  const ours = oursCase(opCase, rng);
  const rounds: ForwardRounds = { ours: [], torch: peers.torch.map(() => []), ort: {} };
  const ort = peers.ort ? await peers.ort.forBatch(batch) : null;
  try {
    const dims = [batch, 3, INPUT_SIZE, INPUT_SIZE];
    const input = rng.normal(batch * 3 * INPUT_SIZE * INPUT_SIZE, INPUT_STD);
    const ortRuns = [];
    for (const { name, runner } of ort?.runners ?? []) {
      ortRuns.push({ name, run: await runner.forward(input, dims, CLASSES) });
      rounds.ort[name] = [];
    }
    for (let r = 0; r < s.rounds; ++r) {
      rounds.ours.push(measure(ours.ops.forward, s.timing));
      for (const [i, torch] of peers.torch.entries()) {
        rounds.torch[i].push(await torchTiming(torch, opCase, 'forward', s.timing));
      }
      for (const { name, run } of ortRuns) rounds.ort[name].push(await measureAsync(run, s.timing));
    }
  } finally {
    ours.dispose();
    await ort?.release();
  }
  return rounds;
}

/** The forward row, then each side's images/s and rounds, naming onnxruntime's fastest variant. */
function printForward(forward: ForwardResult, batch: number, bench: Bench): void {
  const { peers, peakGflops, print } = bench;
  const ort = forward.ort?.fastest ? forward.ort.variants[forward.ort.fastest] : null;
  const cells = peerCells(peers, forward.ours, forward.torch, peers.ort ? ort : null);
  const speed = speedCells(gflops(opFlops(forwardCase(batch)), forward.ours.ms), peakGflops);
  const title = 'forward (whole net)';
  print(tableRow(columns(peers), [title, formatMs(forward.ours.ms), ...speed, ...cells]));
  const sides: [string, ForwardSide | null][] = [
    ['ours', forward.ours],
    ...peers.torch.map(({ blas }): [string, ForwardSide | null] => [
      `PyTorch ${blas.name}`,
      forward.torch[blas.name] ?? null,
    ]),
    ...Object.entries(forward.ort?.variants ?? {}).map(
      ([name, side]): [string, ForwardSide | null] => [`ort ${name}`, side],
    ),
  ];
  const present = sides.filter((side): side is [string, ForwardSide] => side[1] !== null);
  print(
    `images/s: ${present.map(([name, side]) => `${name} ${side.imagesPerSecond.toFixed(1)}`).join(', ')}`,
  );
  if (forward.ort?.fastest) {
    print(
      `onnxruntime-node's fastest variant: ${forward.ort.fastest} (the ort columns are its; ` +
        "lrn-node: one LRN node, decomposed: PyTorch's default export; fixed or dynamic batch)",
    );
  }
  print(
    `forward ms per round: ${present
      .map(([name, side]) => `${name} ${side.rounds.map((r) => formatMs(r.ms)).join(' / ')}`)
      .join('; ')}`,
  );
}

/** The whole forward pass, timed in rounds and printed. */
async function benchForward(batch: number, bench: Bench): Promise<ForwardResult> {
  const rounds = await forwardRounds(batch, bench);
  const variants = Object.fromEntries(
    Object.entries(rounds.ort).map(([name, r]) => [name, forwardSide(batch, r)]),
  );
  const forward: ForwardResult = {
    ours: forwardSide(batch, rounds.ours)!,
    torch: Object.fromEntries(
      bench.peers.torch.map(({ blas }, i) => [blas.name, forwardSide(batch, rounds.torch[i])]),
    ),
    ort: bench.peers.ort ? { variants, fastest: fastestVariant(variants) } : null,
  };
  printForward(forward, batch, bench);
  return forward;
}

/**
 * At batch 1, the memory floor of fc6-fc8's forward beside our time: each weight is read once
 * per image, so their bytes at the measured streaming-read bandwidth bound the three layers for
 * anyone; null where any of the three was not timed.
 */
function memoryFloor(batch: number, ops: readonly OpResult[], bandwidth: number): string | null {
  const fcs = opCases(batch).filter((c) => c.kind === 'fc');
  const times = fcs.map((c) => ops.find((r) => r.group === c.group && r.op === 'forward'));
  if (batch !== 1 || times.some((t) => t === undefined)) return null;
  const bytes = fcs.reduce((sum, c) => sum + 4 * c.inFeatures * c.outFeatures, 0);
  const floorMs = bytes / bandwidth / 1e6;
  const ours = times.reduce((sum, t) => sum + t!.ours.ms, 0);
  return (
    `memory floor: ${fcs.map((c) => c.group).join('-')} forward reads ` +
    `${(bytes / 1e6).toFixed(1)} MB of weights, ${formatMs(floorMs)} ms at the measured ` +
    `${bandwidth.toFixed(1)} GB/s; ours ${formatMs(ours)} ms, ${(ours / floorMs).toFixed(2)}x the floor`
  );
}

async function benchBatch(batch: number, bench: Bench): Promise<BatchResult> {
  const { s, peers, print } = bench;
  print(`\nbatch ${batch}`);
  const titles = columns(peers);
  print(tableRow(titles, titles));
  const ops = await benchOps(batch, bench);
  const floor = memoryFloor(batch, ops, bench.bandwidth);
  if (floor) print(floor);
  const forward = s.only && !s.only.has(FORWARD) ? null : await benchForward(batch, bench);
  const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
  // The load average closes a batch size's table: a measure of the noise in it.
  print(`load average: ${loadAverage.join(' ')}`);
  return { batch, loadAverage, ops, forward };
}

export async function main(argv: string[]): Promise<void> {
  const s = parseSettings(argv);
  const machine = describeMachine();
  // Measured before any peer starts, on an otherwise idle backend.
  const peakGflops = native.measurePeakGflops();
  const bandwidth = native.measureReadBandwidth();
  const kinds = Object.keys(OPS);
  const wantOrt = s.wantOrt && (!s.only || s.only.has(FORWARD));
  const torches = s.wantTorch
    ? await TorchPeer.startEach(machine.threads, kinds, s.blas.variants)
    : [];
  const peers: Peers = { torch: torches ?? [], ort: null };
  try {
    const notes = [...s.blas.notes];
    if (!torches) notes.push(TORCH_MISSING);
    peers.ort = wantOrt ? await OrtPeer.start(torches, machine.threads, notes) : null;
    const print = (line: string) => process.stdout.write(`${line}\n`);
    process.stdout.write(header(machine, peakGflops, peers, peers.ort?.version ?? null, s));
    print(
      `memory: ${bandwidth.toFixed(1)} GB/s, a streaming read of 256 MiB on ${machine.threads} ` +
        'threads (the floor of the fc layers at batch 1)',
    );
    for (const note of notes) print(`note: ${note}`);
    const rng = new Rng(1);
    const results: BatchResult[] = [];
    for (const batch of s.batches) {
      results.push(await benchBatch(batch, { s, peers, peakGflops, bandwidth, rng, print }));
    }

    if (s.json) {
      const report = {
        machine,
        peakGflops,
        bandwidthGBs: bandwidth,
        torch: peers.torch.map(({ peer }) => peer.info),
        onnxruntimeNode: peers.ort?.version ?? null,
        settings: {
          ...s,
          blas: s.blas.variants.map((b) => b.name),
          only: s.only ? [...s.only] : null,
        },
        notes,
        results,
      };
      fs.writeFileSync(s.json, `${JSON.stringify(report, null, 2)}\n`);
      print(`\nresults written to ${s.json}`);
    }
  } finally {
    await peers.ort?.close();
    for (const { peer } of peers.torch) peer.close();
  }
}
