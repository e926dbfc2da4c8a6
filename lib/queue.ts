/**
 * The order of work. Native ops are queued and run off the JavaScript thread, in the order they
 * were called (native/core/executor.h); `flush()` waits for them without blocking the event
 * loop. `InOrder` runs a model's asynchronous calls one after another, so that a second
 * `forward` never overwrites the buffers of a first that has not read its result yet.
 */
import { native } from './native';

/** Resolves once every op queued so far has finished; rejects with the first native error. */
export function flush(): Promise<void> {
  return native.flush();
}

/** flush, blocking the calling thread (for timing ops, and in scripts). */
export function flushSync(): void {
  native.flushSync();
}

export class InOrder {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Whether a call is queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Runs `task` after every task queued before it has settled; resolves to its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.tail.then(task).finally(() => {
      this.pending -= 1;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
