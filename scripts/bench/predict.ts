/**
 * `npm run bench -- predict`: inference of the bvlc AlexNet (227 x 227, 1000 classes) on the
 * CPU, ours against PyTorch's (once per BLAS library its fc layers can run on, torch-blas.ts) and
 * onnxruntime-node's (the network PyTorch exports to ONNX, ort.ts) on the same number of
 * threads, in the same run:
 *
 * - forward-1: the network on one preprocessed image (latency);
 * - forward-N: the network on a batch of N images, for each N of --batch (throughput, images/s);
 * - classify-1: one JPEG end to end, decode and resize included (ours: `classify`, whose
 *   decode threads the warm-up call starts; PyTorch: Pillow, numpy and the network, in-process,
 *   torch_ops.py's classify case; onnxruntime-node runs networks, not JPEGs, so has none).
 *
 * Each row times ours, then each PyTorch, then onnxruntime-node, one right after the other, in
 * --rounds rounds, so that load from other work on the machine falls on all sides of a ratio
 * alike, and a burst of it moves one round of one side only: each side's figure is the median of
 * its rounds (as in ops.ts). Every timing follows timing.ts (a warm-up call, then the median
 * call); weights and inputs are random, never zeros.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { AlexNetError } from '../../lib/errors';
import { AlexNet } from '../../lib/nn/alexnet';
import { classify } from '../../lib/predict';
import { Rng } from '../../lib/random';
import { sizeOf, Tensor } from '../../lib/tensor';
import { type Flags, parseFlags } from '../cli';
import { CLASSES, classifyCase, forwardCase, INPUT_SIZE } from './cases';
import { describeMachine, type Machine } from './machine';
import { fastestVariant, ORT_VARIANTS, OrtPeer, variantName } from './ort';
import { INPUT_STD } from './ours';
import { measureAsync, overRounds, SideRounds, type Timing, type TimingOptions } from './timing';
import { type BlasPeer, describeTorch, TORCH_MISSING, TorchPeer, torchTimings } from './torch';
import { selectTorchBlas, TORCH_BLAS_FLAG, type TorchBlasName } from './torch-blas';

const USAGE = `Usage: npm run bench -- predict [options]

Times the bvlc AlexNet's inference on the CPU (one image, batches, one JPEG end to end) against
PyTorch's (python3 with torch; one process per BLAS library, see --torch-blas) and
onnxruntime-node's where installed, one right after the other per row in alternating rounds, and
prints each side's median round with the ratios: peer time / our time, above 1 means we are faster.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description:
      'comma-separated batch sizes of the throughput rows; forward-1 (latency) is always timed',
    default: '128',
    placeholder: 'list',
  },
  'min-reps': {
    type: 'string',
    description: 'timed calls per case at least, after a warm-up call',
    default: '5',
    placeholder: 'n',
  },
  'min-seconds': {
    type: 'string',
    description:
      "seconds of timed calls per case and round at least; the median call is the round's",
    default: '1',
    placeholder: 's',
  },
  rounds: {
    type: 'string',
    description:
      'alternations of ours, PyTorch and onnxruntime-node for each row; each side reports its median round',
    default: '3',
    placeholder: 'n',
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

/** The PyTorch cases this bench asks for (torch_ops.py). */
const TORCH_KINDS = ['alexnet', 'classify'];

interface Settings {
  /** Images per call of each forward row: 1 (the latency row), then each of --batch. */
  batches: number[];
  timing: TimingOptions;
  rounds: number;
  /** The BLAS variants to time PyTorch on, and why any installed one is left out. */
  blas: ReturnType<typeof selectTorchBlas>;
  wantOrt: boolean;
  json: string | undefined;
}

/** A timing and the images per second it makes, at `images` images a call. */
interface Rate extends Timing {
  imagesPerSecond: number;
}

interface Row {
  /** forward-N or classify-1. */
  case: string;
  /** Images per call. */
  images: number;
  ours: Rate;
  /** Each PyTorch's, by BLAS variant; null where it failed. */
  torch: Partial<Record<TorchBlasName, Rate | null>>;
  /** onnxruntime-node's fastest variant; null where not timed: absent, --no-ort, or classify-1. */
  ort: Rate | null;
  /** Each onnxruntime-node variant by name (ort.ts), and which was fastest; null where not timed. */
  ortVariants: { variants: Record<string, Rate | null>; fastest: string | null } | null;
}

/** What every row runs on. */
interface Sides {
  net: AlexNet;
  torches: BlasPeer[];
  /** Null where absent or not wanted. */
  ort: OrtPeer | null;
}

type Print = (line: string) => void;

function parseSettings(argv: string[]): Settings {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  // A Set: --batch 1 names the latency row again, which is timed once.
  const batches = new Set([
    1,
    ...args.numbers('batch', positiveInt, 'comma-separated positive integers')!,
  ]);
  return {
    batches: [...batches],
    timing: {
      minReps: args.number('min-reps', positiveInt, 'positive integer')!,
      minSeconds: args.number('min-seconds', (n) => n >= 0, 'non-negative number')!,
    },
    rounds: args.number('rounds', positiveInt, 'positive integer')!,
    blas: selectTorchBlas(args.string('torch-blas')),
    wantOrt: !args.flag('no-ort'),
    json: args.string('json'),
  };
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

function rate(timing: Timing, images: number): Rate {
  return { ...timing, imagesPerSecond: (1000 * images) / timing.ms };
}

/** A row's result: each side's timing with its rate. */
function row(
  name: string,
  images: number,
  ours: Timing,
  torch: Partial<Record<TorchBlasName, Timing | null>>,
  ort: Record<string, Timing | null> | null,
): Row {
  const rates = (timings: Record<string, Timing | null>) =>
    Object.fromEntries(Object.entries(timings).map(([k, t]) => [k, t && rate(t, images)]));
  const variants = ort && rates(ort);
  const fastest = variants && fastestVariant(variants);
  return {
    case: name,
    images,
    ours: rate(ours, images),
    torch: rates(torch),
    ort: fastest ? variants[fastest] : null,
    ortVariants: variants && { variants, fastest },
  };
}

/**
 * The network on a batch of `n` random images: ours, then each PyTorch, then each
 * onnxruntime-node variant, s.rounds times.
 */
async function forwardRow(n: number, sides: Sides, s: Settings, rng: Rng): Promise<Row> {
  const shape = [n, 3, INPUT_SIZE, INPUT_SIZE];
  const input = rng.normal(sizeOf(shape), INPUT_STD);
  const ours: Timing[] = [];
  const torch = new SideRounds();
  const ort = sides.ort && new SideRounds();
  const sessions = sides.ort && (await sides.ort.forBatch(n));
  const x = Tensor.from(input, shape);
  try {
    const ortRuns = [];
    for (const { name, runner } of sessions?.runners ?? []) {
      ortRuns.push({ name, run: await runner.forward(input, shape, CLASSES) });
    }
    for (let r = 0; r < s.rounds; ++r) {
      ours.push(await measureAsync(() => sides.net.forward(x, n), s.timing));
      torch.add(await torchTimings(sides.torches, forwardCase(n), 'forward', s.timing));
      for (const { name, run } of ortRuns) ort?.add({ [name]: await measureAsync(run, s.timing) });
    }
  } finally {
    x.dispose();
    await sessions?.release();
  }
  return row(`forward-${n}`, n, overRounds(ours)!, torch.result(), ort ? ort.result() : null);
}

/** The JPEG `image` end to end: ours, then each PyTorch, s.rounds times. */
async function classifyRow(image: string, sides: Sides, s: Settings): Promise<Row> {
  const ours: Timing[] = [];
  const torch = new SideRounds();
  for (let r = 0; r < s.rounds; ++r) {
    ours.push(await measureAsync(() => classify(sides.net, [image]), s.timing));
    torch.add(await torchTimings(sides.torches, classifyCase(image), 'classify', s.timing));
  }
  return row('classify-1', 1, overRounds(ours)!, torch.result(), null);
}

/**
 * The table's column titles: a time and a ratio per PyTorch, named by its BLAS variant, then
 * onnxruntime-node's (empty where it was not timed).
 */
function columns(torches: readonly BlasPeer[]): string[] {
  return [
    'case',
    'ours',
    ...torches.flatMap(({ blas }) => [`PyTorch ${blas.name}`, `${blas.name} ms / ours`]),
    'onnxruntime-node (fastest variant)',
    'ort ms / ours',
  ];
}

/** A row of the Markdown table: each side's time, its rate and its calls, then the ratios. */
function tableRow(r: Row, torches: readonly BlasPeer[]): string {
  const cell = (t: Rate) =>
    `${t.ms.toFixed(1)} ms (${t.imagesPerSecond.toFixed(1)}/s, ${t.reps} reps)`;
  // peer / ours: above 1 means we are faster.
  const peer = (t: Rate | null | undefined) =>
    t ? [cell(t), (t.ms / r.ours.ms).toFixed(2)] : ['', ''];
  const cells = [
    r.case,
    cell(r.ours),
    ...torches.flatMap(({ blas }) => peer(r.torch[blas.name])),
    ...peer(r.ort),
  ];
  if (r.ortVariants?.fastest) cells[cells.length - 2] += ` ${r.ortVariants.fastest}`;
  return `| ${cells.join(' | ')} |`;
}

/** Below the table: every onnxruntime-node variant of each row, and the fastest. */
function variantLines(rows: readonly Row[]): string[] {
  return rows.flatMap((r) => {
    if (!r.ortVariants) return [];
    const each = Object.entries(r.ortVariants.variants).map(([name, t]) =>
      t
        ? `${name} ${t.ms.toFixed(1)} ms (${(t.ms / r.ours.ms).toFixed(2)} x ours)`
        : `${name} failed`,
    );
    return [`onnxruntime-node ${r.case}: ${each.join(', ')}; fastest ${r.ortVariants.fastest}`];
  });
}

/** The lines above the table: the machine, each side's setup, the notes, the column titles. */
function header(s: Settings, machine: Machine, sides: Sides, notes: string[], print: Print): void {
  print(
    `AlexNet predict bench (bvlc preset, ${CLASSES} classes, input ${INPUT_SIZE}), ${machine.date}`,
  );
  print(
    `machine: ${machine.cpu}, ${machine.cores} logical CPUs, ${machine.memoryGiB} GiB, ` +
      `${machine.os}; load average ${machine.loadAverage.join(' ')}`,
  );
  print(
    `ours: alexnet-cudnn ${machine.alexnet}, Node ${machine.node}, CPU backend on ` +
      `${machine.threads} threads, GEMM ${machine.gemmIsa}, convolutions ${machine.convAlgorithm}`,
  );
  for (const torch of sides.torches) print(describeTorch(torch));
  if (sides.ort) {
    print(
      `onnxruntime-node: ${sides.ort.version}, ${machine.threads} intra-op threads, variants ` +
        `${ORT_VARIANTS.map(variantName).join(', ')}; its columns are the fastest variant's`,
    );
  }
  print(
    `timing: median of at least ${s.timing.minReps} calls and ${s.timing.minSeconds} s per case ` +
      `and round after a warm-up call; each row ours, then each PyTorch, then onnxruntime-node, ` +
      `in ${s.rounds} alternating rounds, each side the median of its rounds`,
  );
  for (const note of notes) print(`note: ${note}`);
  const titles = columns(sides.torches);
  print(`\n| ${titles.join(' | ')} |`);
  print(`|${'---|'.repeat(titles.length)}`);
}

/** Every row, each printed as it is done. */
async function benchRows(s: Settings, sides: Sides, image: string, print: Print): Promise<Row[]> {
  const rng = new Rng(1);
  const rows: Row[] = [];
  const add = (r: Row) => {
    rows.push(r);
    print(tableRow(r, sides.torches));
  };
  for (const n of s.batches) add(await forwardRow(n, sides, s, rng));
  add(await classifyRow(image, sides, s));
  return rows;
}

/** What --json writes: the machine, the settings, each side's versions and every timing. */
function jsonReport(
  s: Settings,
  machine: Machine,
  sides: Sides,
  notes: string[],
  rows: Row[],
  loadAverageAtEnd: number[],
): object {
  return {
    machine,
    torch: sides.torches.map(({ peer }) => peer.info),
    onnxruntimeNode: sides.ort?.version ?? null,
    settings: { ...s, blas: s.blas.variants.map((b) => b.name) },
    notes,
    rows,
    loadAverageAtEnd,
  };
}

/** The bench; `argv` are its options. */
export async function benchPredict(argv: string[]): Promise<void> {
  const s = parseSettings(argv);
  const machine = describeMachine();
  const torches = await TorchPeer.startEach(machine.threads, TORCH_KINDS, s.blas.variants);
  const notes = [...s.blas.notes];
  if (!torches) notes.push(TORCH_MISSING);
  const sides: Sides = {
    net: new AlexNet({ preset: 'bvlc', classes: CLASSES, device: 'cpu', seed: 1 }),
    torches: torches ?? [],
    ort: null,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-'));
  try {
    sides.ort = s.wantOrt ? await OrtPeer.start(torches, machine.threads, notes) : null;
    const image = path.join(dir, 'photo.jpg');
    writeTestJpeg(image);
    const print = (line: string) => process.stdout.write(`${line}\n`);
    header(s, machine, sides, notes, print);
    const rows = await benchRows(s, sides, image, print);
    // The load average closes the table: a measure of the noise in it.
    const load = os.loadavg().map((l) => Math.round(l * 100) / 100);
    print('');
    for (const line of variantLines(rows)) print(line);
    print(`load average: ${load.join(' ')}`);
    if (s.json) {
      const report = jsonReport(s, machine, sides, notes, rows, load);
      fs.writeFileSync(s.json, `${JSON.stringify(report, null, 2)}\n`);
      print(`results written to ${s.json}`);
    }
  } finally {
    await sides.ort?.close();
    for (const { peer } of sides.torches) peer.close();
    await sides.net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
