/**
 * Learning-rate schedules. `step` multiplies by gamma every `every` epochs (the paper divides
 * by 10 when validation error stops improving; Caffe's bvlc solver does it every 100,000
 * iterations); `plateau` multiplies by `factor` after `patience` epochs without a better
 * validation accuracy; `cosine` follows torch.optim.lr_scheduler.CosineAnnealingLR per step
 * (Loshchilov & Hutter, "SGDR", ICLR 2017, eq. 5, without restarts):
 * `minLr + (lr - minLr) * (1 + cos(pi * t / T)) / 2` at step t of T.
 *
 * Any of them can start with a linear warmup of `warmupSteps` steps, as
 * torch.optim.lr_scheduler.LinearLR(start_factor, end_factor=1, total_iters=warmupSteps) does:
 * the lr of step t < warmupSteps is multiplied by `startFactor + (1 - startFactor) * t /
 * warmupSteps`. Before `cosine`, the warmup is torch's SequentialLR([LinearLR, CosineAnnealingLR],
 * milestones=[warmupSteps]): the cosine's T is the steps after the warmup, and its t counts from
 * the warmup's end. Both use the closed forms torch documents; its step() computes the same
 * values recursively, which differs in the last bits only (test/schedule.test.ts measures it).
 */
import { fail, finiteNumber, integer } from '../validate';

/** A linear warmup over the first steps of a run (LinearLR). */
export interface Warmup {
  /** Steps of warmup, >= 1. */
  steps: number;
  /** The first step's fraction of the lr, in (0, 1]. @default 1/3 (LinearLR's start_factor) */
  startFactor?: number;
}

export type LrSchedule = (
  | { kind: 'constant' }
  | { kind: 'step'; every: number; gamma: number }
  | { kind: 'plateau'; patience: number; factor: number }
  /** `totalSteps`: the run's steps, the warmup's included. `minLr`: @default 0 */
  | { kind: 'cosine'; totalSteps: number; minLr?: number }
) & { warmup?: Warmup };

/** Scheduler state that a checkpoint stores so a resumed run continues the same schedule. */
export interface SchedulerState {
  lr: number;
  best: number;
  badEpochs: number;
  /** Steps taken (the per-step schedules' t); absent in older checkpoints: 0. */
  steps?: number;
}

export function checkSchedule(schedule: LrSchedule): LrSchedule {
  switch (schedule?.kind) {
    case 'constant':
      break;
    case 'step':
      integer('schedule.every', schedule.every, 1);
      finiteNumber('schedule.gamma', schedule.gamma, 0, 1);
      break;
    case 'plateau':
      integer('schedule.patience', schedule.patience, 1);
      finiteNumber('schedule.factor', schedule.factor, 0, 1);
      break;
    case 'cosine':
      integer('schedule.totalSteps', schedule.totalSteps, 1);
      finiteNumber('schedule.minLr', schedule.minLr ?? 0, 0);
      break;
    default:
      return fail(
        "schedule of kind 'constant', 'step', 'plateau' or 'cosine'",
        'schedule',
        schedule,
      );
  }
  if (schedule.warmup !== undefined) {
    const { warmup } = schedule;
    if (typeof warmup !== 'object' || warmup === null) fail('object', 'schedule.warmup', warmup);
    integer('schedule.warmup.steps', warmup.steps, 1);
    const start = finiteNumber('schedule.warmup.startFactor', warmup.startFactor ?? 1 / 3, 0, 1);
    if (start === 0) fail('number above 0 and at most 1', 'schedule.warmup.startFactor', start);
  }
  return schedule;
}

/** LinearLR's factor at step t of a warmup (1 from its end on). */
export function warmupFactor(warmup: Warmup | undefined, t: number): number {
  if (!warmup || t >= warmup.steps) return 1;
  const start = warmup.startFactor ?? 1 / 3;
  return start + ((1 - start) * t) / warmup.steps;
}

/** CosineAnnealingLR's lr at step t of `total` (the closed form torch documents). */
export function cosineLr(baseLr: number, minLr: number, t: number, total: number): number {
  return minLr + ((baseLr - minLr) * (1 + Math.cos((Math.PI * t) / total))) / 2;
}

export class LrScheduler {
  private state: SchedulerState;

  constructor(
    private readonly schedule: LrSchedule,
    private readonly baseLr: number,
  ) {
    checkSchedule(schedule);
    this.state = { lr: baseLr, best: -1, badEpochs: 0, steps: 0 };
  }

  /** The lr of the epoch-level schedule (step, plateau), before warmup or cosine. */
  get lr(): number {
    return this.state.lr;
  }

  /** Whether the lr may change from one step to the next within an epoch. */
  get perStep(): boolean {
    return this.schedule.kind === 'cosine' || this.schedule.warmup !== undefined;
  }

  /** The lr of the next step, counting it as taken. Called before each training step. */
  nextStepLr(): number {
    const t = this.state.steps ?? 0;
    this.state.steps = t + 1;
    const s = this.schedule;
    const warmupSteps = s.warmup?.steps ?? 0;
    let lr = this.state.lr;
    if (s.kind === 'cosine') {
      const total = Math.max(1, s.totalSteps - warmupSteps);
      lr = cosineLr(this.baseLr, s.minLr ?? 0, Math.max(0, t - warmupSteps), total);
    }
    return lr * warmupFactor(s.warmup, t);
  }

  /** Called after each epoch (numbered from 1) with its validation accuracy; returns the next lr. */
  epochEnd(epoch: number, valAccuracy: number): number {
    const s = this.schedule;
    if (s.kind === 'step') {
      this.state.lr = this.baseLr * s.gamma ** Math.floor(epoch / s.every);
    } else if (s.kind === 'plateau') {
      if (valAccuracy > this.state.best) {
        this.state.best = valAccuracy;
        this.state.badEpochs = 0;
      } else if (++this.state.badEpochs >= s.patience) {
        this.state.lr *= s.factor;
        this.state.badEpochs = 0;
      }
    }
    return this.state.lr;
  }

  save(): SchedulerState {
    return { ...this.state };
  }

  restore(state: SchedulerState): void {
    this.state = { ...state };
  }
}
