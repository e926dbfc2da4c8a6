/**
 * Dynamic batching: single items submitted at random moments are gathered into batches for one
 * call that handles many at once (a forward pass). A batch starts when `maxBatch` items wait, or
 * when the oldest has waited `maxDelayMs`, whichever comes first; one batch runs at a time, and
 * items arriving meanwhile wait for the next. This is the policy of NVIDIA Triton's dynamic
 * batcher (max batch size plus a maximum queue delay), without its priority levels.
 */
import { integer } from '../validate';

export interface BatcherOptions {
  /** Items per batch at most. @default 16 */
  maxBatch?: number;
  /** How long the oldest waiting item may wait for others before its batch runs. @default 5 */
  maxDelayMs?: number;
}

interface Waiting<I, O> {
  item: I;
  since: number;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

export class DynamicBatcher<I, O> {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  private readonly queue: Waiting<I, O>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  /**
   * @param runBatch answers a batch, one output per item in order; a rejection rejects every
   *   item of that batch.
   */
  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = integer('maxBatch', options.maxBatch ?? 16, 1);
    this.maxDelayMs = integer('maxDelayMs', options.maxDelayMs ?? 5, 0);
  }

  /** Items waiting for a batch (not counting the batch running). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves to the item's output once the batch it joined has run. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, since: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Starts a batch if one is due, or arms the timer for when the oldest item's delay ends. */
  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0].since;
    if (this.queue.length >= this.maxBatch || waited >= this.maxDelayMs) {
      this.start();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.maxDelayMs - waited);
    }
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = this.answer(batch).finally(() => {
      this.running = null;
      this.schedule();
    });
  }

  private async answer(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const outputs = await this.runBatch(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        w.resolve(outputs[i]);
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
