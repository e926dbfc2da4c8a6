/**
 * `npm run bench -- ops`: every op of a bvlc AlexNet training step at its real shape, and the
 * whole evaluation forward pass, timed on our CPU backend and, in the same run, in PyTorch and
 * onnxruntime-node where they are installed. Each PyTorch timing is taken right after ours of
 * the same op, and the whole forward pass alternates the three for a few rounds, so that load
 * from other work on the machine falls on both sides of a ratio alike. Ratios are
 * peer time / our time: above 1 means we are faster.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNetError } from '../../lib/errors';
import { Rng } from '../../lib/random';
import { type Flags, parseFlags } from '../cli';
import { CLASSES, forwardCase, INPUT_SIZE, OPS, type OpCase, opCases } from './cases';
import { describeMachine, type Machine } from './machine';
import { loadOrt, ORT_INSTALL, OrtRunner } from './ort';
import { oursCase } from './ours';
import { measure, measureAsync, median, type Timing, type TimingOptions } from './timing';
import { PYTHON_CANDIDATES, type TorchInfo, TorchPeer } from './torch';

const USAGE = `Usage: npm run bench -- ops [options]

Times each op of the bvlc AlexNet (conv1-conv5 forward, backward-data and backward-filter, bias,
ReLU, LRN, max-pool, the fc GEMMs, dropout, softmax cross-entropy, the SGD update) and the whole
forward pass on our CPU backend, and the same in PyTorch (python3 with torch) and
onnxruntime-node where installed, alternating them. Ratios are peer time / our time: above 1
means we are faster.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description: 'comma-separated batch sizes',
    default: '16,128',
    placeholder: 'list',
  },
  reps: {
    type: 'string',
    description: 'timed calls per op at least, after one warm-up call',
    default: '3',
    placeholder: 'n',
  },
  'min-seconds': {
    type: 'string',
    description: 'seconds of timed calls per op at least; the median call is reported',
    default: '1',
    placeholder: 's',
  },
  rounds: {
    type: 'string',
    description: 'alternations of ours, PyTorch and onnxruntime-node for the whole forward pass',
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
  ours: Timing;
  torch: Timing | null;
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
  forward: { ours: ForwardSide; torch: ForwardSide | null; ort: ForwardSide | null } | null;
}

interface Settings {
  batches: number[];
  timing: TimingOptions;
  rounds: number;
  /** The rows to time; null for all. */
  only: Set<string> | null;
  wantTorch: boolean;
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
  const batches = parseList('batch', args.string('batch')!).map((s) => {
    const n = Number(s);
    if (!positiveInt(n)) {
      throw new AlexNetError(`Expected positive integers for --batch but received '${s}'`);
    }
    return n;
  });
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
    wantOrt: !args.flag('no-ort'),
    json: args.string('json'),
  };
}

/** The peers of one run and how to reach them; null where absent or not wanted. */
interface Peers {
  /** PyTorch for timings (null under --no-torch even when it exports the model). */
  torch: TorchPeer | null;
  ort: OrtRunner | null;
}

function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(1);
  return ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

/** peer / ours: above 1 means we are faster. */
function formatRatio(peer: Timing | ForwardSide | null, ours: Timing | ForwardSide): string {
  return peer ? (peer.ms / ours.ms).toFixed(2) : '';
}

const WIDTHS = [22, 11, 11, 12, 11, 10];

function tableRow(cells: string[]): string {
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i]) : cell.padStart(WIDTHS[i])))
    .join('')
    .trimEnd();
}

function header(
  machine: Machine,
  torch: TorchInfo | null,
  ort: string | null,
  s: Settings,
): string {
  const lines = [
    `AlexNet op bench (bvlc preset, ${CLASSES} classes, input ${INPUT_SIZE}), ${machine.date}`,
    `machine: ${machine.cpu}, ${machine.cores} logical CPUs, ${machine.memoryGiB} GiB, ${machine.os}; ` +
      `load average ${machine.loadAverage.join(' ')}`,
    `ours: alexnet-cudnn ${machine.alexnet}, Node ${machine.node}, CPU backend on ${machine.threads} ` +
      `threads, GEMM ${machine.gemmIsa}`,
  ];
  if (torch) {
    lines.push(
      `PyTorch: ${torch.torch} (Python ${torch.pythonVersion}, ${torch.python}), ${torch.threads} ` +
        `threads, oneDNN ${torch.mkldnn ? 'yes' : 'no'}, BLAS ${torch.blas}`,
    );
  }
  if (ort) lines.push(`onnxruntime-node: ${ort}, ${machine.threads} intra-op threads`);
  lines.push(
    `timing: median of at least ${s.timing.minReps} calls and ${s.timing.minSeconds} s per op ` +
      `after a warm-up call; the whole forward pass in ${s.rounds} alternating rounds`,
  );
  return `${lines.join('\n')}\n`;
}

/** PyTorch's timing of one op, or null (with a message) when it failed. */
async function torchTiming(
  peers: Peers,
  opCase: OpCase,
  op: string,
  timing: TimingOptions,
): Promise<Timing | null> {
  if (!peers.torch) return null;
  try {
    return await peers.torch.time(opCase, op, timing);
  } catch (error) {
    if (!(error instanceof AlexNetError)) throw error;
    process.stderr.write(`${opCase.group}.${op}: ${error.message}\n`);
    if (!peers.torch.alive) peers.torch = null;
    return null;
  }
}

function forwardSide(batch: number, rounds: (Timing | null)[]): ForwardSide | null {
  const done = rounds.filter((r): r is Timing => r !== null);
  if (done.length === 0) return null;
  const ms = median(done.map((r) => r.ms));
  return { ms, imagesPerSecond: (1000 * batch) / ms, rounds: done };
}

/** Closes a batch size's table with the load average, a measure of the noise in it. */
function done(
  batch: number,
  ops: OpResult[],
  forward: BatchResult['forward'],
  print: (line: string) => void,
): BatchResult {
  const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
  print(`load average: ${loadAverage.join(' ')}`);
  return { batch, loadAverage, ops, forward };
}

async function benchBatch(
  batch: number,
  s: Settings,
  peers: Peers,
  rng: Rng,
  print: (line: string) => void,
): Promise<BatchResult> {
  print(`\nbatch ${batch}`);
  print(tableRow(['op', 'ours ms', 'torch ms', 'torch/ours', 'ort ms', 'ort/ours']));
  const ops: OpResult[] = [];
  for (const opCase of opCases(batch)) {
    if (s.only && !s.only.has(opCase.group)) continue;
    const ours = oursCase(opCase, rng);
    try {
      for (const op of OPS[opCase.kind]) {
        const result = {
          group: opCase.group,
          op,
          ours: measure(ours.ops[op], s.timing),
          torch: await torchTiming(peers, opCase, op, s.timing),
        };
        ops.push(result);
        print(
          tableRow([
            `${opCase.group}.${op}`,
            formatMs(result.ours.ms),
            result.torch ? formatMs(result.torch.ms) : '',
            formatRatio(result.torch, result.ours),
          ]),
        );
      }
    } finally {
      ours.dispose();
    }
  }
  if (s.only && !s.only.has(FORWARD)) return done(batch, ops, null, print);

  const opCase = forwardCase(batch);
  const ours = oursCase(opCase, rng);
  const rounds: { ours: Timing[]; torch: (Timing | null)[]; ort: (Timing | null)[] } = {
    ours: [],
    torch: [],
    ort: [],
  };
  try {
    const dims = [batch, 3, INPUT_SIZE, INPUT_SIZE];
    const ortRun = peers.ort
      ? await peers.ort.forward(rng.normal(batch * 3 * INPUT_SIZE * INPUT_SIZE, 50), dims, CLASSES)
      : null;
    for (let r = 0; r < s.rounds; ++r) {
      rounds.ours.push(measure(ours.ops.forward, s.timing));
      if (peers.torch) rounds.torch.push(await torchTiming(peers, opCase, 'forward', s.timing));
      if (ortRun) rounds.ort.push(await measureAsync(ortRun, s.timing));
    }
  } finally {
    ours.dispose();
  }
  const forward = {
    ours: forwardSide(batch, rounds.ours)!,
    torch: forwardSide(batch, rounds.torch),
    ort: forwardSide(batch, rounds.ort),
  };
  print(
    tableRow([
      'forward (whole net)',
      formatMs(forward.ours.ms),
      forward.torch ? formatMs(forward.torch.ms) : '',
      formatRatio(forward.torch, forward.ours),
      forward.ort ? formatMs(forward.ort.ms) : '',
      formatRatio(forward.ort, forward.ours),
    ]),
  );
  const sides: [string, ForwardSide | null][] = [
    ['ours', forward.ours],
    ['PyTorch', forward.torch],
    ['onnxruntime-node', forward.ort],
  ];
  const present = sides.filter((side): side is [string, ForwardSide] => side[1] !== null);
  print(
    `images/s: ${present.map(([name, side]) => `${name} ${side.imagesPerSecond.toFixed(1)}`).join(', ')}`,
  );
  print(
    `forward ms per round: ${present
      .map(([name, side]) => `${name} ${side.rounds.map((r) => formatMs(r.ms)).join(' / ')}`)
      .join('; ')}`,
  );
  return done(batch, ops, forward, print);
}

export async function main(argv: string[]): Promise<void> {
  const s = parseSettings(argv);
  const machine = describeMachine();
  const wantForward = !s.only || s.only.has(FORWARD);
  const wantOrt = s.wantOrt && wantForward;
  // PyTorch also exports the network for onnxruntime-node, so it starts for either.
  const torch =
    s.wantTorch || wantOrt ? await TorchPeer.start(machine.threads, Object.keys(OPS)) : null;
  const notes: string[] = [];
  if (!torch && (s.wantTorch || wantOrt)) {
    notes.push(
      `PyTorch: none of ${PYTHON_CANDIDATES.join(', ')} can import torch; its column is empty ` +
        '(Debian: apt-get install python3-torch; or pip install torch)',
    );
  }
  const peers: Peers = { torch: s.wantTorch ? torch : null, ort: null };
  let ortVersion: string | null = null;
  let onnxDir: string | null = null;
  try {
    const loaded = wantOrt ? loadOrt() : null;
    if (wantOrt && !loaded) {
      notes.push(
        `onnxruntime-node: not found, its column is empty; install it with ${ORT_INSTALL}`,
      );
    } else if (loaded && !torch) {
      notes.push('onnxruntime-node: skipped, the model is exported to ONNX by PyTorch');
    } else if (loaded && torch) {
      onnxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-'));
      const onnxFile = path.join(onnxDir, 'alexnet.onnx');
      await torch.exportOnnx(onnxFile, CLASSES);
      peers.ort = await OrtRunner.create(loaded, onnxFile, machine.threads);
      ortVersion = `${loaded.version} (${path.relative(process.cwd(), loaded.location) || '.'})`;
    }

    const print = (line: string) => process.stdout.write(`${line}\n`);
    process.stdout.write(header(machine, peers.torch ? torch!.info : null, ortVersion, s));
    for (const note of notes) print(`note: ${note}`);
    const rng = new Rng(1);
    const results: BatchResult[] = [];
    for (const batch of s.batches) results.push(await benchBatch(batch, s, peers, rng, print));

    if (s.json) {
      const report = {
        machine,
        torch: torch?.info ?? null,
        onnxruntimeNode: ortVersion,
        settings: { ...s, only: s.only ? [...s.only] : null },
        notes,
        results,
      };
      fs.writeFileSync(s.json, `${JSON.stringify(report, null, 2)}\n`);
      print(`\nresults written to ${s.json}`);
    }
  } finally {
    torch?.close();
    await peers.ort?.release();
    if (onnxDir) fs.rmSync(onnxDir, { recursive: true, force: true });
  }
}
