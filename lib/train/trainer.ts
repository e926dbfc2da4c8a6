/**
 * The training loop: epochs over a training set with per-step loss and accuracy, validation
 * top-1 (and top-5) after each epoch, a checkpoint after every epoch and on Ctrl-C / SIGTERM
 * (after the step in flight), and the run folder's logs: `train.log`, TensorBoard events under
 * `tensorboard/`, `metrics.jsonl` (one object per epoch) and a self-contained `report.html`.
 *
 * A run resumed from its checkpoint continues exactly: the shuffling and cropping of each epoch
 * come from an RNG seeded by (seed, epoch), dropout masks from the model's step counter, and the
 * momentum buffers and schedule state are restored.
 *
 * With `parallel` (lib/distributed/data-parallel.ts) every rank runs this loop on its share of
 * each batch and of the validation set; the sums make every figure the global one, rank 0 alone
 * writes the run folder and prints, and a stop signal on any rank stops all after the same step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Batch, Dataset } from '../data/dataset';
import type { DataParallel } from '../distributed/data-parallel';
import { AlexNetError, ArgumentError, fileWriteError, NonFiniteLossError } from '../errors';
import { removeStaleTemporaries } from '../io/atomic';
import {
  type Checkpoint,
  loadOptimizerState,
  loadWeights,
  type ModelConfig,
  modelConfig,
  saveCheckpoint,
  type TrainingState,
} from '../io/checkpoint';
import { SummaryWriter } from '../io/tensorboard';
import type { AlexNet } from '../nn/alexnet';
import { Progress } from '../progress';
import { Rng } from '../random';
import { integer } from '../validate';
import type { Optimizer } from './optimizer';
import { type EpochMetrics, writeReport } from './report';
import { type LrSchedule, LrScheduler, type SchedulerState } from './schedule';
import { type StopSignal, StopSignals } from './stop-signals';
import { trainStep } from './training-step';

export interface TrainerOptions {
  epochs: number;
  batchSize: number;
  /** The run folder: checkpoints and logs go here. */
  outDir: string;
  /** @default { kind: 'constant' } */
  schedule?: LrSchedule;
  /** Seed of the per-epoch shuffling and augmentation. @default the model's seed */
  seed?: number;
  /** The run's settings, saved in checkpoints and the report. @default {} */
  config?: Record<string, unknown>;
  /** Continue from this checkpoint (its weights, momentum, epoch, step and schedule). */
  resume?: Checkpoint;
  /** Where progress goes: a redrawn bar on a terminal, plain lines otherwise; false for none. @default process.stderr */
  progress?: NodeJS.WritableStream | false;
  /** Where human-readable lines go (they are also written to train.log). @default console.log */
  log?: (line: string) => void;
  /**
   * Stop after the step in flight on SIGINT / SIGTERM, saving a checkpoint; a second signal exits
   * the process at once with 128 + its number (stop-signals.ts). @default true
   */
  handleSignals?: boolean;
  onEpochEnd?: (metrics: EpochMetrics) => void;
  /**
   * Train on several ranks: `batchSize` is the global batch, divisible by the number of ranks.
   * Only rank 0 writes `outDir` and reports progress.
   */
  parallel?: DataParallel;
  /** Called after every training step. */
  onBatchEnd?: (info: { epoch: number; batch: number; loss: number }) => void;
}

export interface TrainResult {
  history: EpochMetrics[];
  /** The checkpoint written last (`latest.safetensors` in the run folder). */
  checkpoint: string;
  /** True when a signal stopped the run before `epochs`. */
  interrupted: boolean;
  /** The signal that stopped the run, when one did. */
  stoppedBy?: StopSignal;
}

type PartialEpoch = NonNullable<TrainingState['partialEpoch']>;

/** What one call of fit() works with: the run folder's writers and where training stands. */
interface Run {
  log: (line: string) => void;
  /** The run folder's writers: null on ranks other than 0. */
  logFile: fs.WriteStream | null;
  writer: SummaryWriter | null;
  scheduler: LrScheduler;
  model: ModelConfig;
  stop: StopSignals | null;
  /** The signal the run stops for: this process's, or with several ranks, any rank's. */
  stopped: StopSignal | null;
  history: EpochMetrics[];
  /** Epochs completed before this fit() started. */
  startEpoch: number;
  /** Batches of the first epoch trained before a resume, to be passed over. */
  skipBatches: number;
  /** Running sums of the epoch in progress. */
  partial: PartialEpoch;
}

function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch, 0xc2b2ae35)) >>> 0;
}

const emptyPartial = (): PartialEpoch => ({ loss: 0, correct: 0, seen: 0, seconds: 0 });

/** The line train.log gets for an epoch. */
function epochSummary(metrics: EpochMetrics, epochs: number, skipped: number): string {
  return (
    `epoch ${metrics.epoch}/${epochs}: loss ${metrics.trainLoss.toFixed(4)}, ` +
    `train acc ${(100 * metrics.trainAccuracy).toFixed(2)}%, ` +
    `val acc ${(100 * metrics.valAccuracy).toFixed(2)}%` +
    (metrics.valTop5 !== undefined ? `, val top-5 ${(100 * metrics.valTop5).toFixed(2)}%` : '') +
    `, ${metrics.imagesPerSecond.toFixed(1)} img/s, ${metrics.seconds.toFixed(1)} s` +
    (skipped > 0 ? `, ${skipped} unreadable file(s) skipped` : '')
  );
}

export class Trainer {
  private readonly options: Required<
    Omit<TrainerOptions, 'resume' | 'onEpochEnd' | 'onBatchEnd' | 'parallel'>
  > &
    Pick<TrainerOptions, 'resume' | 'onEpochEnd' | 'onBatchEnd' | 'parallel'>;
  /** Whether this process writes the run folder and prints: rank 0, or the only process. */
  private readonly primary: boolean;

  constructor(
    private readonly net: AlexNet,
    private readonly optimizer: Optimizer,
    private readonly train: Dataset,
    private readonly val: Dataset,
    options: TrainerOptions,
  ) {
    integer('epochs', options.epochs, 1);
    integer('batchSize', options.batchSize, 1);
    const ranks = options.parallel?.comm.size ?? 1;
    if (options.batchSize % ranks !== 0) {
      throw new ArgumentError(
        `Expected batchSize divisible by the ${ranks} ranks but received ${options.batchSize}`,
      );
    }
    this.primary = (options.parallel?.comm.rank ?? 0) === 0;
    this.options = {
      schedule: { kind: 'constant' },
      seed: net.seed,
      config: {},
      progress: process.stderr,
      log: (line) => console.log(line),
      handleSignals: true,
      ...options,
    };
    if (!this.primary) {
      this.options.progress = false;
      this.options.log = () => undefined;
    }
  }

  get latestCheckpoint(): string {
    return path.join(this.options.outDir, 'latest.safetensors');
  }

  async fit(): Promise<TrainResult> {
    // What a killed run was writing (kill -9 mid-checkpoint): files this run may not rewrite.
    for (const folder of [this.options.outDir, path.join(this.options.outDir, 'checkpoints')]) {
      await removeStaleTemporaries(folder);
    }
    const run = this.open();
    try {
      if (this.options.resume) this.restore(run, this.options.resume);
      for (let epoch = run.startEpoch + 1; epoch <= this.options.epochs; ++epoch) {
        const batches = await this.trainEpoch(run, epoch);
        const signal = run.stopped;
        // Awaited here so that close() in finally waits for the checkpoint.
        if (signal) return await this.stopMidEpoch(run, signal, epoch, batches);
        await this.endEpoch(run, epoch, await this.evaluate());
        if (this.stopRequested(run) && epoch < this.options.epochs) {
          return this.result(run, run.stopped ?? undefined);
        }
      }
      return this.result(run);
    } finally {
      await this.close(run);
    }
  }

  /**
   * Validation top-1 and top-5 accuracy (fractions) over the whole validation set. With
   * `parallel`, each rank evaluates its share and every rank must call it.
   */
  async evaluate(): Promise<{ top1: number; top5: number }> {
    let correct = 0;
    let correctTop5 = 0;
    let seen = 0;
    const { parallel } = this.options;
    for await (const batch of this.val.batches(
      this.options.batchSize,
      undefined,
      parallel?.shard,
    )) {
      if (batch.n === 0) continue;
      const r = await this.net.evaluate(batch.x, batch.labels, batch.n, 5);
      correct += r.correct;
      correctTop5 += r.correctTopK;
      seen += batch.n;
    }
    if (parallel) {
      [correct, correctTop5, seen] = parallel.comm.allreduceValuesSync([
        correct,
        correctTop5,
        seen,
      ]);
    }
    return { top1: correct / seen, top5: correctTop5 / seen };
  }

  /** Opens the run folder's logs and, unless told not to, listens for stop signals. */
  private open(): Run {
    const o = this.options;
    if (this.primary) {
      fs.mkdirSync(path.join(o.outDir, 'checkpoints'), { recursive: true });
      for (const folder of [o.outDir, path.join(o.outDir, 'checkpoints')]) {
        try {
          // A read-only run folder is one clear error now, not a failed checkpoint an epoch later.
          fs.accessSync(folder, fs.constants.W_OK);
        } catch (error) {
          throw fileWriteError(folder, error);
        }
      }
    }
    const logFile = this.primary
      ? fs.createWriteStream(path.join(o.outDir, 'train.log'), { flags: 'a' })
      : null;
    const log = (line: string) => {
      o.log(line);
      logFile?.write(`${new Date().toISOString()} ${line}\n`);
    };
    const stop = o.handleSignals
      ? new StopSignals((signal) =>
          log(
            `${signal}: stopping after the current step and saving a checkpoint (again to force quit)`,
          ),
        )
      : null;
    return {
      log,
      logFile,
      writer: this.primary ? new SummaryWriter(path.join(o.outDir, 'tensorboard')) : null,
      scheduler: new LrScheduler(o.schedule, this.optimizer.lr),
      model: modelConfig(this.net),
      stop,
      stopped: null,
      history: [],
      startEpoch: 0,
      skipBatches: 0,
      partial: emptyPartial(),
    };
  }

  private async close(run: Run): Promise<void> {
    run.stop?.dispose();
    await run.writer?.close();
    await new Promise<void>((resolve) => (run.logFile ? run.logFile.end(resolve) : resolve()));
  }

  /** Takes up a checkpoint's weights, optimiser state, step, schedule and place in the epochs. */
  private restore(run: Run, r: Checkpoint): void {
    if (!r.training) throw new AlexNetError(`${r.file} holds weights only: it cannot be resumed`);
    loadWeights(this.net, r.weights, r.file);
    loadOptimizerState(this.optimizer, r, r.file);
    this.net.step = r.training.step;
    this.optimizer.lr = r.training.lr;
    run.scheduler.restore(r.training.scheduler as SchedulerState);
    run.history = r.training.history as EpochMetrics[];
    run.startEpoch = r.training.epoch;
    run.skipBatches = r.training.batchInEpoch;
    run.partial = r.training.partialEpoch ?? run.partial;
    run.log(
      `resuming ${r.file} at epoch ${run.startEpoch + 1}, batch ${run.skipBatches}, step ${this.net.step}`,
    );
  }

  /**
   * One pass over the training set, or up to the step in flight when a stop signal came.
   * Returns the batches of the epoch trained so far, resumed ones included.
   */
  private async trainEpoch(run: Run, epoch: number): Promise<number> {
    const o = this.options;
    const progress = new Progress(`epoch ${epoch}/${o.epochs}`, this.train.length, {
      stream: o.progress || undefined,
      silent: o.progress === false,
      unit: 'img',
    });
    const started = performance.now();
    let batchIndex = 0;
    const rng = new Rng(epochSeed(o.seed, epoch));
    for await (const batch of this.train.batches(o.batchSize, rng, o.parallel?.shard)) {
      if (batchIndex < run.skipBatches) {
        batchIndex++;
        continue;
      }
      const loss = await this.runStep(run, batch);
      batchIndex++;
      const { partial } = run;
      progress.update(
        Math.min(this.train.length, batchIndex * o.batchSize),
        `loss ${(partial.loss / partial.seen).toFixed(4)} acc ${((100 * partial.correct) / partial.seen).toFixed(1)}%`,
      );
      o.onBatchEnd?.({ epoch, batch: batchIndex, loss });
      // The step ran off the event loop's thread (trainStep awaits it), so a signal handler has
      // had its turn by now, in-memory data included.
      if (this.stopRequested(run)) break;
    }
    progress.finish();
    run.partial.seconds += (performance.now() - started) / 1000;
    run.skipBatches = 0;
    return batchIndex;
  }

  /** One optimiser step, added to the epoch's sums and the TensorBoard scalars. Returns its loss. */
  private async runStep(run: Run, batch: Batch): Promise<number> {
    let result: { loss: number; correct: number };
    this.optimizer.lr = run.scheduler.nextStepLr();
    if (run.scheduler.perStep) {
      run.partial.stepLr ??= [];
      run.partial.stepLr.push(this.optimizer.lr);
    }
    try {
      result = await trainStep(this.net, this.optimizer, batch, {
        parallel: this.options.parallel,
      });
    } catch (error) {
      if (error instanceof NonFiniteLossError) {
        run.log(`${error.message} The last good checkpoint is ${this.latestCheckpoint}.`);
      }
      throw error;
    }
    // A rank's share of a global batch reports the global batch's results.
    const n = batch.total ?? batch.n;
    run.partial.loss += result.loss * n;
    run.partial.correct += result.correct;
    run.partial.seen += n;
    const step = this.net.step;
    run.writer?.addScalar('train/loss', result.loss, step);
    run.writer?.addScalar('train/accuracy', result.correct / n, step);
    run.writer?.addScalar('train/lr', this.optimizer.lr, step);
    return result.loss;
  }

  /** An epoch's metrics into the history, the logs and the report; its checkpoint; the lr step. */
  private async endEpoch(run: Run, epoch: number, evaluation: { top1: number; top5: number }) {
    const o = this.options;
    const { partial, writer } = run;
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: partial.loss / partial.seen,
      trainAccuracy: partial.correct / partial.seen,
      valAccuracy: evaluation.top1,
      ...(this.net.arch.classes > 5 ? { valTop5: evaluation.top5 } : {}),
      lr: this.optimizer.lr,
      ...(partial.stepLr ? { stepLr: partial.stepLr } : {}),
      imagesPerSecond: partial.seen / partial.seconds,
      seconds: partial.seconds,
    };
    run.partial = emptyPartial();
    run.history.push(metrics);
    this.optimizer.lr = run.scheduler.epochEnd(epoch, metrics.valAccuracy);
    if (writer) {
      writer.addScalar('val/accuracy', metrics.valAccuracy, this.net.step);
      if (metrics.valTop5 !== undefined)
        writer.addScalar('val/top5', metrics.valTop5, this.net.step);
      writer.addScalar('train/images_per_second', metrics.imagesPerSecond, this.net.step);
      await writer.flush();
      fs.appendFileSync(path.join(o.outDir, 'metrics.jsonl'), `${JSON.stringify(metrics)}\n`);
      await this.saveCheckpoint(run, epoch, 0);
      await writeReport(path.join(o.outDir, 'report.html'), run.history, {
        title: `AlexNet (${this.net.arch.preset}) — ${o.outDir}`,
        config: o.config,
      });
    }
    const skipped = (this.train.skipped ?? 0) + (this.val.skipped ?? 0);
    run.log(epochSummary(metrics, o.epochs, skipped));
    o.onEpochEnd?.(metrics);
  }

  /**
   * Whether a stop signal came (to any rank: all stop after the same step). A collective with
   * several ranks, so every rank calls it at the same points.
   */
  private stopRequested(run: Run): boolean {
    const local = run.stop?.received ?? null;
    const { parallel } = this.options;
    if (!parallel) {
      run.stopped = local;
      return local !== null;
    }
    const codes: (StopSignal | null)[] = [null, 'SIGINT', 'SIGTERM'];
    const [agreed] = parallel.comm.allreduceValuesSync([codes.indexOf(local)], 'max');
    run.stopped = codes[agreed];
    return run.stopped !== null;
  }

  /** Saves where a signal stopped epoch `epoch`, after `batches` of its batches. */
  private async stopMidEpoch(
    run: Run,
    signal: StopSignal,
    epoch: number,
    batches: number,
  ): Promise<TrainResult> {
    await this.saveCheckpoint(run, epoch - 1, batches);
    run.log(`stopped by ${signal} at epoch ${epoch}, batch ${batches}; resume with --resume`);
    return this.result(run, signal);
  }

  /**
   * `latest.safetensors` for `epoch` epochs and `batchInEpoch` batches of the next, and at an
   * epoch's end also `checkpoints/epoch-NNN.safetensors`.
   */
  private async saveCheckpoint(run: Run, epoch: number, batchInEpoch: number): Promise<void> {
    if (!this.primary) return;
    const state: TrainingState = {
      epoch,
      batchInEpoch,
      step: this.net.step,
      lr: this.optimizer.lr,
      scheduler: run.scheduler.save(),
      partialEpoch: batchInEpoch > 0 ? run.partial : undefined,
      history: run.history,
      config: this.options.config,
    };
    const training = { optimizer: this.optimizer, state };
    if (batchInEpoch === 0) {
      const name = `epoch-${String(epoch).padStart(3, '0')}.safetensors`;
      await saveCheckpoint(
        path.join(this.options.outDir, 'checkpoints', name),
        this.net,
        run.model,
        training,
      );
    }
    await saveCheckpoint(this.latestCheckpoint, this.net, run.model, training);
  }

  private result(run: Run, stoppedBy?: StopSignal): TrainResult {
    return {
      history: run.history,
      checkpoint: this.latestCheckpoint,
      interrupted: stoppedBy !== undefined,
      ...(stoppedBy ? { stoppedBy } : {}),
    };
  }
}
