import { LrScheduler } from '../lib/train/schedule';

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
    expect(() => new LrScheduler({ kind: 'cosine' } as never, 1)).toThrow(
      "Expected schedule of kind 'constant', 'step' or 'plateau' for schedule",
    );
  });
});
