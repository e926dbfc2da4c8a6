/**
 * onnxruntime-node as a peer: the CPU inference engine a Node user would otherwise pick for a
 * trained network. It is not a dependency of this package: its install script downloads GPU
 * libraries from a host other than the npm registry, which breaks offline installs. The CPU
 * build ships inside the npm package, so `--ignore-scripts` installs a working copy; the bench
 * loads it where it finds one and otherwise says how to get it.
 *
 * A peer is timed at its best: the network is exported in each way a user would get it (LRN as
 * one node or as PyTorch's default decomposition; the batch size fixed or dynamic), every variant
 * is timed, and the benches take their ratio against the fastest. onnxruntime's own LRN kernel
 * is slower than the decomposition, and fixed shapes let it plan memory ahead; which variant wins
 * depends on the batch size and the machine, so each is timed rather than one assumed.
 *
 * Only the few members of its API the bench calls are declared here, so that type-checking
 * does not need the package.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASSES } from './cases';
import { peerFolders } from './paths';
import { type BlasPeer, PYTHON_CANDIDATES, TorchPeer } from './torch';

export const ORT_PACKAGE = 'onnxruntime-node';

export const ORT_INSTALL =
  'npm install --no-save --ignore-scripts onnxruntime-node ' +
  '(or, to leave node_modules as it is: npm install --prefix .peers --no-save --ignore-scripts onnxruntime-node)';

export interface OrtTensor {
  readonly dims: readonly number[];
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: 'sequential' | 'parallel';
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface OrtModule {
  InferenceSession: {
    create(file: string, options: OrtSessionOptions): Promise<OrtSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

export interface LoadedOrt {
  ort: OrtModule;
  version: string;
  /** The folder it was loaded from. */
  location: string;
}

/** The package's folder: the nearest above its resolved main file with its package.json. */
function packageFolder(main: string): string {
  let dir = path.dirname(main);
  while (path.basename(dir) !== ORT_PACKAGE && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Loads onnxruntime-node from our node_modules or .peers/node_modules; null when absent. */
export function loadOrt(): LoadedOrt | null {
  let main: string;
  try {
    main = require.resolve(ORT_PACKAGE, { paths: peerFolders() });
  } catch {
    return null;
  }
  const location = packageFolder(main);
  const { version } = JSON.parse(fs.readFileSync(path.join(location, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { ort: require(main) as OrtModule, version, location };
}

/** One inference session over the exported network, on the same threads as ours. */
export class OrtRunner {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
  ) {}

  static async create(loaded: LoadedOrt, onnxFile: string, threads: number): Promise<OrtRunner> {
    const session = await loaded.ort.InferenceSession.create(onnxFile, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OrtRunner(loaded.ort, session);
  }

  /** A function running the network on `input` (n x 3 x size x size), checking the output once. */
  async forward(input: Float32Array, dims: readonly number[], classes: number) {
    const feeds = { [this.session.inputNames[0]]: new this.ort.Tensor('float32', input, dims) };
    const run = () => this.session.run(feeds);
    const outputs = await run();
    const logits = outputs[this.session.outputNames[0]];
    if (logits.dims.join() !== [dims[0], classes].join()) {
      throw new Error(
        `onnxruntime-node returned logits of shape [${logits.dims.join(', ')}], expected [${dims[0]}, ${classes}]`,
      );
    }
    return run;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * How the network reaches onnxruntime-node. `lrn`: one ONNX LRN node (as a Caffe model
 * converts), or PyTorch's default export of nn.LocalResponseNorm (Pad + AveragePool + Pow + Div
 * and a few element-wise nodes), which onnxruntime runs faster than its own LRN kernel.
 * `fixedBatch`: the batch size fixed in the file (torch.onnx.export's default), or a dynamic
 * batch axis; with fixed shapes onnxruntime plans its memory and picks kernels ahead.
 */
export interface OrtVariant {
  lrn: 'node' | 'decomposed';
  fixedBatch: boolean;
}

/** Every variant the benches time; each is reported, and ratios are taken against the fastest. */
export const ORT_VARIANTS: readonly OrtVariant[] = [
  { lrn: 'node', fixedBatch: false },
  { lrn: 'node', fixedBatch: true },
  { lrn: 'decomposed', fixedBatch: false },
  { lrn: 'decomposed', fixedBatch: true },
];

/** A variant's name in tables and JSON, e.g. 'lrn-node/dynamic', 'decomposed/fixed'. */
export function variantName(v: OrtVariant): string {
  return `${v.lrn === 'node' ? 'lrn-node' : 'decomposed'}/${v.fixedBatch ? 'fixed' : 'dynamic'}`;
}

/** The name of the fastest of `timings` (the smallest ms), or null where none ran. */
export function fastestVariant<T extends { ms: number }>(
  timings: Readonly<Record<string, T | null>>,
): string | null {
  let best: string | null = null;
  for (const [name, t] of Object.entries(timings)) {
    if (t && (best === null || t.ms < timings[best]!.ms)) best = name;
  }
  return best;
}

/** One session per variant at one batch size, ready to run. */
export interface OrtBatch {
  runners: { name: string; runner: OrtRunner }[];
  /** Releases the fixed-batch sessions made for this batch size (the dynamic ones stay). */
  release(): Promise<void>;
}

/**
 * onnxruntime-node on `threads` intra-op threads, running the bvlc AlexNet with CLASSES outputs
 * as PyTorch exports it to ONNX (torch_ops.py), in every variant of ORT_VARIANTS. The dynamic
 * sessions are made once; the fixed ones once per batch size (forBatch), exported again each
 * time, so the exporting PyTorch stays open as long as this peer.
 */
export class OrtPeer {
  private constructor(
    private readonly loaded: LoadedOrt,
    private readonly exporter: TorchPeer,
    /** The exporter where this peer started it (closed with it); null where it was lent. */
    private readonly own: TorchPeer | null,
    private readonly threads: number,
    private readonly dynamic: Map<string, OrtRunner>,
  ) {}

  /** Its version and the folder it was loaded from. */
  get version(): string {
    return `${this.loaded.version} (${path.relative(process.cwd(), this.loaded.location) || '.'})`;
  }

  /**
   * The peer, or null, with a note saying why, where onnxruntime-node or PyTorch is missing.
   * The export runs in the first of `torches`, or, where none was started (--no-torch, no BLAS
   * variant installed), in a PyTorch process of its own on whatever BLAS the system links (the
   * export does not use it). `torches` is null where no Python here can import torch.
   */
  static async start(
    torches: readonly BlasPeer[] | null,
    threads: number,
    notes: string[],
  ): Promise<OrtPeer | null> {
    const loaded = loadOrt();
    if (!loaded) {
      notes.push(
        `onnxruntime-node: not found, its column is empty; install it with ${ORT_INSTALL}`,
      );
      return null;
    }
    const own = torches?.length === 0 ? await TorchPeer.start(threads, [], null) : null;
    const exporter = torches?.[0]?.peer ?? own;
    if (!exporter) {
      notes.push(
        'onnxruntime-node: skipped, the model is exported to ONNX by PyTorch and none of ' +
          `${PYTHON_CANDIDATES.join(', ')} can import torch`,
      );
      return null;
    }
    const peer = new OrtPeer(loaded, exporter, own, threads, new Map());
    try {
      for (const v of ORT_VARIANTS.filter((v) => !v.fixedBatch)) {
        peer.dynamic.set(variantName(v), await peer.session(v, null));
      }
    } catch (error) {
      await peer.close();
      throw error;
    }
    return peer;
  }

  /** A session per variant at `batch`: the dynamic ones shared, the fixed ones made for it. */
  async forBatch(batch: number): Promise<OrtBatch> {
    const made: OrtRunner[] = [];
    const release = async () => {
      for (const runner of made) await runner.release();
    };
    try {
      const runners = [];
      for (const v of ORT_VARIANTS) {
        const name = variantName(v);
        let runner = this.dynamic.get(name);
        if (!runner) {
          runner = await this.session(v, batch);
          made.push(runner);
        }
        runners.push({ name, runner });
      }
      return { runners, release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async close(): Promise<void> {
    for (const runner of this.dynamic.values()) await runner.release();
    this.dynamic.clear();
    this.own?.close();
  }

  /** Exports variant `v` (batch fixed at `batch`, or dynamic where null) and opens a session. */
  private async session(v: OrtVariant, batch: number | null): Promise<OrtRunner> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-'));
    try {
      const onnxFile = path.join(dir, 'alexnet.onnx');
      await this.exporter.exportOnnx(onnxFile, CLASSES, v.lrn, batch);
      // The session reads the whole model when it is created: the file can go right after.
      return await OrtRunner.create(this.loaded, onnxFile, this.threads);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
