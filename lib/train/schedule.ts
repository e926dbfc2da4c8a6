/**
 * Learning-rate schedules. `step` multiplies by gamma every `every` epochs (the paper divides
 * by 10 when validation error stops improving; Caffe's bvlc solver does it every 100,000
 * iterations); `plateau` multiplies by `factor` after `patience` epochs without a better
 * validation accuracy.
 */
import { fail, finiteNumber, integer } from '../validate';

export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'step'; every: number; gamma: number }
  | { kind: 'plateau'; patience: number; factor: number };

/** Scheduler state that a checkpoint stores so a resumed run continues the same schedule. */
export interface SchedulerState {
  lr: number;
  best: number;
  badEpochs: number;
}

export function checkSchedule(schedule: LrSchedule): LrSchedule {
  switch (schedule?.kind) {
    case 'constant':
      return schedule;
    case 'step':
      integer('schedule.every', schedule.every, 1);
      finiteNumber('schedule.gamma', schedule.gamma, 0, 1);
      return schedule;
    case 'plateau':
      integer('schedule.patience', schedule.patience, 1);
      finiteNumber('schedule.factor', schedule.factor, 0, 1);
      return schedule;
    default:
      return fail("schedule of kind 'constant', 'step' or 'plateau'", 'schedule', schedule);
  }
}

export class LrScheduler {
  private state: SchedulerState;

  constructor(
    private readonly schedule: LrSchedule,
    private readonly baseLr: number,
  ) {
    checkSchedule(schedule);
    this.state = { lr: baseLr, best: -1, badEpochs: 0 };
  }

  get lr(): number {
    return this.state.lr;
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
