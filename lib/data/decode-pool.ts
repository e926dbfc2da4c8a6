/**
 * A pool of worker threads (node:worker_threads) that decode and resize images for the cache,
 * one per core by default: jpeg-js and the resize are plain JavaScript, so decoding N images
 * at once needs N threads. With sharp, a worker's decode runs on libuv's thread pool with one
 * libvips thread per image (decode-sharp.ts sets sharp's concurrency to 1), while the worker's
 * own thread resizes the image it decoded before: one worker per core, each with a decode and a
 * resize in flight, keeps the cores busy without running libvips' default of one thread per
 * core for every image at once.
 *
 * Workers run decode-worker.js from the compiled package. When this module runs from its
 * TypeScript source (the jest suites run lib/ through ts-jest), there is no compiled worker:
 * each worker then loads the same TypeScript modules through a require hook that compiles them
 * with the TypeScript compiler's transpileModule (syntax only, no type check), so the tests
 * exercise the same worker code as the package. `workers: 0` prepares images on the calling
 * thread instead, one at a time.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AlexNetError } from '../errors';
import type { ResizePolicy } from '../io/preprocessing';
import { integer } from '../validate';
import type { DecodeReply, DecodeTask } from './decode-worker';
import type { DecodeSettings } from './decoder';
import {
  type PreparedImage,
  type PrepareFailure,
  type PrepareTask,
  tryPrepareImage,
} from './prepare-image';

/** A prepared image, or why it could not be prepared (the message names the file). */
export type PrepareResult = PreparedImage | PrepareFailure;

/** Runs in a worker started from TypeScript source: compile .ts on require, then load the entry. */
const TYPESCRIPT_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const ts = require(workerData.typescript);
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  module._compile(outputText, filename);
};
require(workerData.entry);
`;

function startWorker(): Worker {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `decode-worker${extension}`);
  if (extension === '.ts') {
    return new Worker(TYPESCRIPT_BOOTSTRAP, {
      eval: true,
      workerData: { entry, typescript: require.resolve('typescript') },
    });
  }
  return new Worker(entry);
}

interface Pending {
  resolve: (result: PrepareResult) => void;
  reject: (error: Error) => void;
}

export class DecodePool {
  /** One worker per core the process may use. */
  static defaultWorkers(): number {
    return os.availableParallelism();
  }

  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private nextId = 0;
  private failure: Error | null = null;

  /** @param workerCount threads to start; 0 prepares images on the calling thread. */
  constructor(readonly workerCount: number) {
    integer('workers', workerCount, 0, 256);
    for (let w = 0; w < workerCount; ++w) {
      const worker = startWorker();
      worker.on('message', (reply: DecodeReply) => this.settle(w, reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a decode worker exited with code ${code}`));
      });
      // An idle pool must not keep the process alive; tasks in flight do (see prepare).
      worker.unref();
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  /** Whether a worker failed or the pool was closed: every later task is refused. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Images being prepared; callers bound this to keep memory in check. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Reads, decodes and resizes one image file on the least-loaded worker. */
  prepare(
    file: string,
    size: number,
    policy: ResizePolicy,
    decode: DecodeSettings,
  ): Promise<PrepareResult> {
    return this.submit({ file, size, policy, decode });
  }

  /**
   * Decodes and resizes an image already in memory (an upload) on the least-loaded worker;
   * `name` stands for it in errors. The bytes are copied to the worker.
   */
  prepareBytes(
    bytes: Uint8Array,
    name: string,
    size: number,
    policy: ResizePolicy,
    decode: DecodeSettings,
  ): Promise<PrepareResult> {
    return this.submit({ file: name, bytes, size, policy, decode });
  }

  private submit(task: PrepareTask): Promise<PrepareResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers.length === 0) return tryPrepareImage(task);
    let w = 0;
    for (let i = 1; i < this.load.length; ++i) if (this.load[i] < this.load[w]) w = i;
    const id = this.nextId++;
    return new Promise<PrepareResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      if (this.load[w]++ === 0) this.workers[w].ref();
      this.workers[w].postMessage({ ...task, id } satisfies DecodeTask);
    });
  }

  private settle(w: number, reply: DecodeReply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    if (--this.load[w] === 0) this.workers[w].unref();
    const { id: _, ...result } = reply;
    entry.resolve(result);
  }

  private fail(error: Error): void {
    this.failure = new AlexNetError(`Image decoding failed: ${error.message}`);
    for (const entry of this.pending.values()) entry.reject(this.failure);
    this.pending.clear();
  }

  /** Stops the workers; tasks still in flight are rejected. */
  async close(): Promise<void> {
    this.failure ??= new AlexNetError('The decode pool was closed');
    for (const entry of this.pending.values()) entry.reject(this.failure);
    this.pending.clear();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.workers.length = 0;
  }
}
