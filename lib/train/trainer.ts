/**
 * The training loop: epochs over a training set with per-step loss and accuracy, validation
 * top-1 (and top-5) after each epoch, a checkpoint after every epoch and on Ctrl-C / SIGTERM
 * (after the step in flight), and the run folder's logs: `train.log`, TensorBoard events under
 * `tensorboard/`, `metrics.jsonl` (one object per epoch) and a self-contained `report.html`.
 *
 * A run resumed from its checkpoint continues exactly: the shuffling and cropping of each epoch
 * come from an RNG seeded by (seed, epoch), dropout masks from the model's step counter, and the
 * momentum buffers and schedule state are restored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../data/dataset';
import { AlexNetError, NonFiniteLossError } from '../errors';
import {
  type Checkpoint,
  loadMomentum,
  loadWeights,
  modelConfig,
  saveCheckpoint,
  type TrainingState,
} from '../io/checkpoint';
import { SummaryWriter } from '../io/tensorboard';
import type { AlexNet } from '../nn/alexnet';
import { Rng } from '../random';
import { integer } from '../validate';
import { Progress } from './progress';
import { type EpochMetrics, writeReport } from './report';
import { type LrSchedule, LrScheduler, type SchedulerState } from './schedule';
import type { SGD } from './sgd';

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
  /** Stop after the step in flight on SIGINT / SIGTERM, saving a checkpoint. @default true */
  handleSignals?: boolean;
  onEpochEnd?: (metrics: EpochMetrics) => void;
  /** Called after every training step. */
  onBatchEnd?: (info: { epoch: number; batch: number; loss: number }) => void;
}

export interface TrainResult {
  history: EpochMetrics[];
  /** The checkpoint written last (`latest.safetensors` in the run folder). */
  checkpoint: string;
  /** True when a signal stopped the run before `epochs`. */
  interrupted: boolean;
}

function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch, 0xc2b2ae35)) >>> 0;
}

export class Trainer {
  private readonly options: Required<Omit<TrainerOptions, 'resume' | 'onEpochEnd' | 'onBatchEnd'>> &
    Pick<TrainerOptions, 'resume' | 'onEpochEnd' | 'onBatchEnd'>;
  private stopSignal: string | null = null;

  constructor(
    private readonly net: AlexNet,
    private readonly optimizer: SGD,
    private readonly train: Dataset,
    private readonly val: Dataset,
    options: TrainerOptions,
  ) {
    integer('epochs', options.epochs, 1);
    integer('batchSize', options.batchSize, 1);
    this.options = {
      schedule: { kind: 'constant' },
      seed: net.seed,
      config: {},
      progress: process.stderr,
      log: (line) => console.log(line),
      handleSignals: true,
      ...options,
    };
  }

  get latestCheckpoint(): string {
    return path.join(this.options.outDir, 'latest.safetensors');
  }

  async fit(): Promise<TrainResult> {
    const o = this.options;
    fs.mkdirSync(path.join(o.outDir, 'checkpoints'), { recursive: true });
    const logFile = fs.createWriteStream(path.join(o.outDir, 'train.log'), { flags: 'a' });
    const log = (line: string) => {
      o.log(line);
      logFile.write(`${new Date().toISOString()} ${line}\n`);
    };
    const writer = new SummaryWriter(path.join(o.outDir, 'tensorboard'));
    const scheduler = new LrScheduler(o.schedule, this.optimizer.lr);
    const model = modelConfig(this.net);

    let history: EpochMetrics[] = [];
    let startEpoch = 0;
    let skipBatches = 0;
    let partial = { loss: 0, correct: 0, seen: 0, seconds: 0 };
    if (o.resume) {
      const r = o.resume;
      if (!r.training) throw new AlexNetError(`${r.file} holds weights only: it cannot be resumed`);
      loadWeights(this.net, r.weights, r.file);
      loadMomentum(this.optimizer, r.momentum, r.file);
      this.net.step = r.training.step;
      this.optimizer.lr = r.training.lr;
      scheduler.restore(r.training.scheduler as SchedulerState);
      history = r.training.history as EpochMetrics[];
      startEpoch = r.training.epoch;
      skipBatches = r.training.batchInEpoch;
      partial = r.training.partialEpoch ?? partial;
      log(
        `resuming ${r.file} at epoch ${startEpoch + 1}, batch ${skipBatches}, step ${this.net.step}`,
      );
    }

    const state = (epoch: number, batchInEpoch: number): TrainingState => ({
      epoch,
      batchInEpoch,
      step: this.net.step,
      lr: this.optimizer.lr,
      scheduler: scheduler.save(),
      partialEpoch: batchInEpoch > 0 ? partial : undefined,
      history,
      config: o.config,
    });
    const checkpoint = async (epoch: number, batchInEpoch: number) => {
      const training = { optimizer: this.optimizer, state: state(epoch, batchInEpoch) };
      if (batchInEpoch === 0) {
        const file = path.join(
          o.outDir,
          'checkpoints',
          `epoch-${String(epoch).padStart(3, '0')}.safetensors`,
        );
        await saveCheckpoint(file, this.net, model, training);
      }
      await saveCheckpoint(this.latestCheckpoint, this.net, model, training);
    };

    const onSignal = (signal: string) => {
      this.stopSignal = signal;
      log(
        `${signal}: stopping after the current step and saving a checkpoint (again to force quit)`,
      );
      removeSignals();
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    const removeSignals = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
    if (o.handleSignals) {
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    }

    try {
      for (let epoch = startEpoch + 1; epoch <= o.epochs; ++epoch) {
        const rng = new Rng(epochSeed(o.seed, epoch));
        const progress = new Progress(`epoch ${epoch}/${o.epochs}`, this.train.length, {
          stream: o.progress || undefined,
          silent: o.progress === false,
          unit: 'img',
        });
        let batchIndex = 0;
        let started = performance.now();
        for await (const batch of this.train.batches(o.batchSize, rng)) {
          if (batchIndex < skipBatches) {
            batchIndex++;
            continue;
          }
          let result: { loss: number; correct: number };
          try {
            result = await this.net.trainBatch(batch.x, batch.labels, batch.n, this.optimizer);
          } catch (error) {
            if (error instanceof NonFiniteLossError) {
              log(`${error.message} The last good checkpoint is ${this.latestCheckpoint}.`);
            }
            throw error;
          }
          batchIndex++;
          partial.loss += result.loss * batch.n;
          partial.correct += result.correct;
          partial.seen += batch.n;
          writer.addScalar('train/loss', result.loss, this.net.step);
          writer.addScalar('train/accuracy', result.correct / batch.n, this.net.step);
          writer.addScalar('train/lr', this.optimizer.lr, this.net.step);
          const seen = partial.seen;
          progress.update(
            Math.min(this.train.length, batchIndex * o.batchSize),
            `loss ${(partial.loss / seen).toFixed(4)} acc ${((100 * partial.correct) / seen).toFixed(1)}%`,
          );
          o.onBatchEnd?.({ epoch, batch: batchIndex, loss: result.loss });
          if (this.stopSignal) {
            progress.finish();
            partial.seconds += (performance.now() - started) / 1000;
            await checkpoint(epoch - 1, batchIndex);
            log(
              `stopped by ${this.stopSignal} at epoch ${epoch}, batch ${batchIndex}; resume with --resume`,
            );
            return { history, checkpoint: this.latestCheckpoint, interrupted: true };
          }
        }
        progress.finish();
        partial.seconds += (performance.now() - started) / 1000;
        started = performance.now();
        skipBatches = 0;

        const evaluation = await this.evaluate();
        const metrics: EpochMetrics = {
          epoch,
          trainLoss: partial.loss / partial.seen,
          trainAccuracy: partial.correct / partial.seen,
          valAccuracy: evaluation.top1,
          ...(this.net.arch.classes > 5 ? { valTop5: evaluation.top5 } : {}),
          lr: this.optimizer.lr,
          imagesPerSecond: partial.seen / partial.seconds,
          seconds: partial.seconds,
        };
        partial = { loss: 0, correct: 0, seen: 0, seconds: 0 };
        history.push(metrics);
        writer.addScalar('val/accuracy', metrics.valAccuracy, this.net.step);
        if (metrics.valTop5 !== undefined)
          writer.addScalar('val/top5', metrics.valTop5, this.net.step);
        writer.addScalar('train/images_per_second', metrics.imagesPerSecond, this.net.step);
        await writer.flush();
        fs.appendFileSync(path.join(o.outDir, 'metrics.jsonl'), `${JSON.stringify(metrics)}\n`);
        this.optimizer.lr = scheduler.epochEnd(epoch, metrics.valAccuracy);
        await checkpoint(epoch, 0);
        await writeReport(path.join(o.outDir, 'report.html'), history, {
          title: `AlexNet (${this.net.arch.preset}) — ${o.outDir}`,
          config: o.config,
        });
        const skipped = (this.train.skipped ?? 0) + (this.val.skipped ?? 0);
        log(
          `epoch ${epoch}/${o.epochs}: loss ${metrics.trainLoss.toFixed(4)}, ` +
            `train acc ${(100 * metrics.trainAccuracy).toFixed(2)}%, ` +
            `val acc ${(100 * metrics.valAccuracy).toFixed(2)}%` +
            (metrics.valTop5 !== undefined
              ? `, val top-5 ${(100 * metrics.valTop5).toFixed(2)}%`
              : '') +
            `, ${metrics.imagesPerSecond.toFixed(1)} img/s, ${metrics.seconds.toFixed(1)} s` +
            (skipped > 0 ? `, ${skipped} unreadable file(s) skipped` : ''),
        );
        o.onEpochEnd?.(metrics);
        if (this.stopSignal) {
          return { history, checkpoint: this.latestCheckpoint, interrupted: epoch < o.epochs };
        }
      }
      return { history, checkpoint: this.latestCheckpoint, interrupted: false };
    } finally {
      removeSignals();
      await writer.close();
      await new Promise<void>((resolve) => logFile.end(resolve));
    }
  }

  /** Validation top-1 and top-5 accuracy (fractions) over the whole validation set. */
  async evaluate(): Promise<{ top1: number; top5: number }> {
    let correct = 0;
    let correctTop5 = 0;
    let seen = 0;
    for await (const batch of this.val.batches(this.options.batchSize)) {
      const r = await this.net.evaluate(batch.x, batch.labels, batch.n, 5);
      correct += r.correct;
      correctTop5 += r.correctTopK;
      seen += batch.n;
    }
    return { top1: correct / seen, top5: correctTop5 / seen };
  }
}
