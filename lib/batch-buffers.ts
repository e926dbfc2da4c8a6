/**
 * Tensors kept per batch size, allocated once for the largest batch (a layer's activations, a
 * dataset's augmented batch, the predictor's inputs).
 */
import type { Tensor } from './tensor';

/**
 * Tensors kept per batch: allocated once for the largest batch seen, and handed out as
 * views of their first rows for smaller batches. So a layer holds one set whatever batch sizes
 * come (a server classifying 1, 7, then 16 images holds the set for 16), and the training step
 * allocates nothing once the largest batch has been seen.
 */
export class BatchBuffers<T extends Record<string, Tensor>> {
  private capacity = 0;
  private readonly views = new Map<number, T>();
  private full: T | null = null;

  constructor(private readonly create: (batch: number) => T) {}

  get(batch: number): T {
    if (batch > this.capacity) {
      this.dispose();
      this.full = this.create(batch);
      this.capacity = batch;
      this.views.set(batch, this.full);
    }
    let entry = this.views.get(batch);
    if (!entry) {
      const full = this.full!;
      entry = Object.fromEntries(
        Object.entries(full).map(([key, t]) => [key, t.view([batch, ...t.shape.slice(1)])]),
      ) as T;
      this.views.set(batch, entry);
    }
    return entry;
  }

  dispose(): void {
    for (const entry of this.views.values()) disposeAll(entry);
    this.views.clear();
    this.full = null;
    this.capacity = 0;
  }
}

/** Disposes every tensor or plan of a record. */
export function disposeAll(record: Record<string, { dispose(): void }>): void {
  for (const value of Object.values(record)) value.dispose();
}
