import { type LrSchedule, LrScheduler } from '../lib/train/schedule';
import { expectClose } from './util/compare';
import { loadFixture } from './util/npy';

interface SchedulesMeta {
  base_lr: number;
  cosine: { T_max: number; eta_min: number; lrs: number[] };
  linear: { start_factor: number; total_iters: number; lrs: number[] };
  linear_default: { total_iters: number; lrs: number[] };
  warmup_cosine: {
    warmup: number;
    start_factor: number;
    total: number;
    eta_min: number;
    lrs: number[];
  };
}

/** The lr of each of `steps` steps. */
function perStep(schedule: LrSchedule, baseLr: number, steps: number): number[] {
  const s = new LrScheduler(schedule, baseLr);
  return Array.from({ length: steps }, () => s.nextStepLr());
}

/**
 * torch.optim.lr_scheduler (test/fixtures/lr_schedules, scripts/make_fixtures.py) steps its lr
 * recursively (each lr from the previous one), we use the closed forms it documents: the two
 * agree to a few double ulps per step; 1e-12 relative covers hundreds of steps.
 */
const SCHEDULE_RTOL = 1e-12;

describe('per-step schedules against torch.optim.lr_scheduler', () => {
  const { meta } = loadFixture<SchedulesMeta>('lr_schedules');
  const close = (ours: number[], theirs: number[], label: string) =>
    expectClose(ours, theirs, { rtol: SCHEDULE_RTOL, atol: 0 }, label);

  test('cosine: CosineAnnealingLR(T_max, eta_min), step by step', () => {
    const c = meta.cosine;
    const ours = perStep(
      { kind: 'cosine', totalSteps: c.T_max, minLr: c.eta_min },
      meta.base_lr,
      c.lrs.length,
    );
    close(ours, c.lrs, 'cosine');
  });

  test('warmup: LinearLR(start_factor, total_iters), then the base lr', () => {
    const l = meta.linear;
    const warmup = { steps: l.total_iters, startFactor: l.start_factor };
    close(perStep({ kind: 'constant', warmup }, meta.base_lr, l.lrs.length), l.lrs, 'linear');
    const d = meta.linear_default;
    const ours = perStep(
      { kind: 'constant', warmup: { steps: d.total_iters } },
      meta.base_lr,
      d.lrs.length,
    );
    close(ours, d.lrs, 'LinearLR default start factor');
  });

  test('warmup then cosine: SequentialLR([LinearLR, CosineAnnealingLR], milestones=[warmup])', () => {
    const w = meta.warmup_cosine;
    const schedule: LrSchedule = {
      kind: 'cosine',
      totalSteps: w.total,
      minLr: w.eta_min,
      warmup: { steps: w.warmup, startFactor: w.start_factor },
    };
    close(perStep(schedule, meta.base_lr, w.lrs.length), w.lrs, 'warmup + cosine');
  });

  test('a restored cosine schedule continues from its step', () => {
    const schedule: LrSchedule = { kind: 'cosine', totalSteps: 10, warmup: { steps: 3 } };
    const a = new LrScheduler(schedule, 0.1);
    for (let i = 0; i < 5; ++i) a.nextStepLr();
    const b = new LrScheduler(schedule, 0.1);
    b.restore(JSON.parse(JSON.stringify(a.save())));
    expect([b.nextStepLr(), b.nextStepLr()]).toEqual([a.nextStepLr(), a.nextStepLr()]);
  });

  test('bad per-step schedules name the field', () => {
    expect(() => new LrScheduler({ kind: 'cosine', totalSteps: 0 }, 1)).toThrow(
      'Expected positive integer for schedule.totalSteps but received 0 of type number',
    );
    expect(
      () =>
        new LrScheduler(
          { kind: 'step', every: 1, gamma: 0.1, warmup: { steps: 2, startFactor: 0 } },
          1,
        ),
    ).toThrow(
      'Expected number above 0 and at most 1 for schedule.warmup.startFactor but received 0',
    );
  });
});

describe('learning-rate schedules', () => {
  test('step: x gamma every k epochs', () => {
    const s = new LrScheduler({ kind: 'step', every: 2, gamma: 0.1 }, 1);
    const lrs = [1, 2, 3, 4, 5].map((epoch) => s.epochEnd(epoch, 0.5));
    expect(lrs.map((lr) => Number(lr.toPrecision(6)))).toEqual([1, 0.1, 0.1, 0.01, 0.01]);
  });

  test('plateau: x factor after `patience` epochs without a better validation accuracy', () => {
    const s = new LrScheduler({ kind: 'plateau', patience: 2, factor: 0.5 }, 0.1);
    const accuracies = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7];
    expect(accuracies.map((a, i) => s.epochEnd(i + 1, a))).toEqual([
      0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025,
    ]);
  });

  test('a restored scheduler continues where the saved one was', () => {
    const a = new LrScheduler({ kind: 'plateau', patience: 2, factor: 0.5 }, 0.1);
    a.epochEnd(1, 0.5);
    a.epochEnd(2, 0.4);
    const b = new LrScheduler({ kind: 'plateau', patience: 2, factor: 0.5 }, 0.1);
    b.restore(JSON.parse(JSON.stringify(a.save())));
    expect(b.epochEnd(3, 0.4)).toBe(a.epochEnd(3, 0.4));
    expect(b.lr).toBe(0.05);
  });

  test('bad schedules name the field', () => {
    expect(() => new LrScheduler({ kind: 'step', every: 0, gamma: 0.1 }, 1)).toThrow(
      'Expected positive integer for schedule.every but received 0 of type number',
    );
    expect(() => new LrScheduler({ kind: 'exponential' } as never, 1)).toThrow(
      "Expected schedule of kind 'constant', 'step', 'plateau' or 'cosine' for schedule",
    );
  });
});
