/**
 * PyTorch as a peer: finds a Python that can `import torch`, starts scripts/bench/torch_ops.py
 * once per BLAS variant (torch-blas.ts), and asks it to time one op at a time, so that the bench
 * can alternate our timing and PyTorch's op by op (see torch_ops.py for the line protocol). It
 * also exports the network to ONNX for onnxruntime-node.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as readline from 'node:readline';
import { AlexNetError } from '../../lib/errors';
import type { ClassifyCase, OpCase } from './cases';
import { torchScript } from './paths';
import type { Timing, TimingOptions } from './timing';
import {
  type BlasReport,
  checkTorchBlas,
  describeBlas,
  type TorchBlas,
  type TorchBlasName,
  torchBlasEnv,
} from './torch-blas';

/**
 * Interpreters tried in order: the one on the PATH (a virtualenv with pip's torch), then the
 * system's (Debian's python3-torch installs there, and a pyenv shim on the PATH can hide it).
 */
export const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3'];

/** A bench's note where none of PYTHON_CANDIDATES can import torch. */
export const TORCH_MISSING =
  `PyTorch: none of ${PYTHON_CANDIDATES.join(', ')} can import torch; its columns are empty ` +
  '(Debian: apt-get install python3-torch; or pip install torch)';

/** What the PyTorch process reports about itself when it starts. */
export interface TorchInfo {
  /** The interpreter that runs it. */
  python: string;
  pythonVersion: string;
  torch: string;
  threads: number;
  /** Whether PyTorch was built with oneDNN (MKL-DNN), which runs its CPU convolutions. */
  mkldnn: boolean;
  /** The BLAS variant it was started on; null for a process that only exports the model. */
  blasVariant: TorchBlasName | null;
  /** The BLAS it calls, which runs its fully connected layers. */
  blas: BlasReport;
}

interface Hello {
  ready: boolean;
  torch: string;
  python: string;
  threads: number;
  mkldnn: boolean;
  blas: BlasReport;
  kinds: string[];
}

/** What the PyTorch side times: an op of ours, or a JPEG end to end. */
export type PeerCase = OpCase | ClassifyCase;

/** A PyTorch process and the BLAS variant it runs on. */
export interface BlasPeer {
  blas: TorchBlas;
  peer: TorchPeer;
}

export function findTorchPython(): string | null {
  for (const python of PYTHON_CANDIDATES) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return null;
}

export class TorchPeer {
  private closed = false;

  private constructor(
    readonly info: TorchInfo,
    private readonly child: ChildProcess,
    private readonly lines: AsyncIterator<string>,
  ) {}

  /**
   * Starts the PyTorch side on `threads` threads and on the BLAS `blas` (checked), or on the one
   * the system links where `blas` is null; null when no Python here has torch.
   */
  static async start(
    threads: number,
    kinds: readonly string[],
    blas: TorchBlas | null,
  ): Promise<TorchPeer | null> {
    const python = findTorchPython();
    if (!python) return null;
    // stderr is inherited: a Python traceback reaches the terminal as it is.
    const child = spawn(python, [torchScript(), '--threads', String(threads)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: blas ? torchBlasEnv(blas, threads) : process.env,
    });
    // A write to a process that died fails asynchronously; the next read reports the exit.
    child.stdin!.on('error', () => {});
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      throw new AlexNetError(`${python} ${torchScript()} exited before it was ready`);
    }
    const hello = JSON.parse(first.value) as Hello;
    try {
      const missing = kinds.filter((k) => !hello.kinds.includes(k));
      if (missing.length > 0) {
        throw new AlexNetError(
          `${torchScript()} has no ${missing.join(', ')} case: it and scripts/bench/cases.ts disagree`,
        );
      }
      if (blas) checkTorchBlas(blas, hello.blas, python);
    } catch (error) {
      child.kill();
      throw error;
    }
    const info = {
      python,
      pythonVersion: hello.python,
      torch: hello.torch,
      threads: hello.threads,
      mkldnn: hello.mkldnn,
      blasVariant: blas?.name ?? null,
      blas: hello.blas,
    };
    return new TorchPeer(info, child, lines);
  }

  /** One peer per BLAS variant, in their order; null when no Python here has torch. */
  static async startEach(
    threads: number,
    kinds: readonly string[],
    variants: readonly TorchBlas[],
  ): Promise<BlasPeer[] | null> {
    const peers: BlasPeer[] = [];
    try {
      for (const blas of variants) {
        const peer = await TorchPeer.start(threads, kinds, blas);
        if (!peer) return null;
        peers.push({ blas, peer });
      }
    } catch (error) {
      for (const { peer } of peers) peer.close();
      throw error;
    }
    return peers;
  }

  /** Times `op` of `opCase` in PyTorch, with the same rule as ours (timing.ts). */
  async time(opCase: PeerCase, op: string, options: TimingOptions): Promise<Timing> {
    const reply = await this.request({ cmd: 'time', case: opCase, op, ...options });
    return { ms: reply.ms as number, reps: reply.reps as number };
  }

  /**
   * Writes the bvlc AlexNet with `classes` outputs as an ONNX file: LRN as one ONNX node or as
   * torch.onnx.export decomposes it, the batch size fixed at `batch` or dynamic where null.
   */
  async exportOnnx(
    file: string,
    classes: number,
    lrn: 'node' | 'decomposed',
    batch: number | null,
  ): Promise<void> {
    await this.request({ cmd: 'export', path: file, classes, lrn, batch });
  }

  /** False once the process has exited or been closed. */
  get alive(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.child.stdin!.end();
  }

  private async request(message: object): Promise<Record<string, unknown>> {
    if (this.closed) throw new AlexNetError('The PyTorch process has been closed');
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
    const line = await this.lines.next();
    if (line.done) {
      this.closed = true;
      throw new AlexNetError(`The PyTorch process (${torchScript()}) exited unexpectedly`);
    }
    const reply = JSON.parse(line.value) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new AlexNetError(`PyTorch: ${reply.error}`);
    return reply;
  }
}

/** A header line: what a variant's PyTorch is and runs on. */
export function describeTorch({ blas, peer }: BlasPeer): string {
  const { info } = peer;
  return (
    `PyTorch ${blas.name}: ${info.torch} (Python ${info.pythonVersion}, ${info.python}), ` +
    `${info.threads} threads, oneDNN ${info.mkldnn ? 'yes' : 'no'}, BLAS ${describeBlas(info.blas)}`
  );
}

/**
 * One PyTorch's timing of `op` of `opCase`, or null (with a message) when it failed or had
 * failed: a bench goes on with the other rows and peers.
 */
export async function torchTiming(
  { blas, peer }: BlasPeer,
  opCase: PeerCase,
  op: string,
  timing: TimingOptions,
): Promise<Timing | null> {
  if (!peer.alive) return null;
  try {
    return await peer.time(opCase, op, timing);
  } catch (error) {
    if (!(error instanceof AlexNetError)) throw error;
    process.stderr.write(`${opCase.group}.${op} (PyTorch ${blas.name}): ${error.message}\n`);
    return null;
  }
}

/** Each PyTorch's timing of `op` of `opCase`, one right after the other, by BLAS variant. */
export async function torchTimings(
  torches: readonly BlasPeer[],
  opCase: PeerCase,
  op: string,
  timing: TimingOptions,
): Promise<Partial<Record<TorchBlasName, Timing | null>>> {
  const timings: Partial<Record<TorchBlasName, Timing | null>> = {};
  for (const torch of torches) {
    timings[torch.blas.name] = await torchTiming(torch, opCase, op, timing);
  }
  return timings;
}
