/**
 * How every bench times a piece of work: one warm-up call (first-touch page faults, lazily built
 * scratch), then calls until there are at least `minReps` of them and `minSeconds` have passed,
 * and the median call. The median, not the mean, because this machine is shared: a build that
 * starts mid-measurement slows some calls a lot and leaves the middle one mostly alone.
 * scripts/bench/torch_ops.py times the PyTorch side with the same rule.
 */

export interface TimingOptions {
  /** Timed calls at least, after the warm-up. */
  minReps: number;
  /** Seconds of timed calls at least. */
  minSeconds: number;
}

export interface Timing {
  /** Median milliseconds per call. */
  ms: number;
  /** Timed calls. */
  reps: number;
}

/** A rep limit keeps microsecond ops from looping for a million calls. */
export const MAX_REPS = 10000;

/** A side's timing over alternating rounds: the median of the rounds' medians. */
export interface RoundsTiming extends Timing {
  /** Each round's timing, in run order. */
  rounds: Timing[];
}

/** The rounds that were timed (null: the peer failed that round), or null where none was. */
export function overRounds(rounds: readonly (Timing | null)[]): RoundsTiming | null {
  const done = rounds.filter((r): r is Timing => r !== null);
  if (done.length === 0) return null;
  const reps = done.reduce((sum, r) => sum + r.reps, 0);
  return { ms: median(done.map((r) => r.ms)), reps, rounds: done };
}

/** Peers' timings over a row's rounds, by name (a BLAS variant, an onnxruntime-node variant). */
export class SideRounds {
  private readonly rounds = new Map<string, (Timing | null)[]>();

  /** One round's timings; null where the peer failed that round. */
  add(timings: Partial<Record<string, Timing | null>>): void {
    for (const [name, timing] of Object.entries(timings)) {
      if (!this.rounds.has(name)) this.rounds.set(name, []);
      this.rounds.get(name)!.push(timing ?? null);
    }
  }

  /** Each peer's median round (overRounds), null where every round failed. */
  result(): Record<string, RoundsTiming | null> {
    return Object.fromEntries([...this.rounds].map(([name, rounds]) => [name, overRounds(rounds)]));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Collects the timed calls of one measurement and says when there are enough. */
class Samples {
  private readonly ms: number[] = [];
  private readonly start = process.hrtime.bigint();

  constructor(private readonly options: TimingOptions) {}

  get wanted(): boolean {
    const seconds = Number(process.hrtime.bigint() - this.start) / 1e9;
    return (
      this.ms.length < MAX_REPS &&
      (this.ms.length < this.options.minReps || seconds < this.options.minSeconds)
    );
  }

  /** Records a call that started at `t0` (process.hrtime.bigint()) and ended now. */
  record(t0: bigint): void {
    this.ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  result(): Timing {
    return { ms: median(this.ms), reps: this.ms.length };
  }
}

export function measure(run: () => void, options: TimingOptions): Timing {
  run();
  const samples = new Samples(options);
  while (samples.wanted) {
    const t0 = process.hrtime.bigint();
    run();
    samples.record(t0);
  }
  return samples.result();
}

/** The same rule for asynchronous work (onnxruntime-node's session.run). */
export async function measureAsync(
  run: () => Promise<unknown>,
  options: TimingOptions,
): Promise<Timing> {
  await run();
  const samples = new Samples(options);
  while (samples.wanted) {
    const t0 = process.hrtime.bigint();
    await run();
    samples.record(t0);
  }
  return samples.result();
}
