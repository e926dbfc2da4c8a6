/**
 * onnxruntime-node as a peer: the CPU inference engine a Node user would otherwise pick for a
 * trained network. It is not a dependency of this package: its install script downloads GPU
 * libraries from a host other than the npm registry, which breaks offline installs. The CPU
 * build ships inside the npm package, so `--ignore-scripts` installs a working copy; the bench
 * loads it where it finds one and otherwise says how to get it.
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

/** onnxruntime-node ready to time, and how a header names it. */
export interface OrtPeer {
  runner: OrtRunner;
  /** Its version and the folder it was loaded from. */
  version: string;
}

/**
 * onnxruntime-node on `threads` intra-op threads, running the bvlc AlexNet with CLASSES outputs
 * as PyTorch exports it to ONNX (torch_ops.py), so that it runs the network PyTorch times; null,
 * with a note saying why, where onnxruntime-node or PyTorch is missing. The export runs in the
 * first of `torches`, or, where none was started (--no-torch, no BLAS variant installed), in a
 * PyTorch process of its own on whatever BLAS the system links (the export does not use it),
 * closed once the model is written. `torches` is null where no Python here can import torch.
 */
export async function startOrt(
  torches: readonly BlasPeer[] | null,
  threads: number,
  notes: string[],
): Promise<OrtPeer | null> {
  const loaded = loadOrt();
  if (!loaded) {
    notes.push(`onnxruntime-node: not found, its column is empty; install it with ${ORT_INSTALL}`);
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-'));
  try {
    const onnxFile = path.join(dir, 'alexnet.onnx');
    await exporter.exportOnnx(onnxFile, CLASSES);
    // The session reads the whole model when it is created: the file can go right after.
    const runner = await OrtRunner.create(loaded, onnxFile, threads);
    const version = `${loaded.version} (${path.relative(process.cwd(), loaded.location) || '.'})`;
    return { runner, version };
  } finally {
    own?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
