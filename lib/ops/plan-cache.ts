/** The plans of a layer, by batch size, with a bound on how many are kept. */

/**
 * Plans (shape-specific descriptors and constants) for the most recent batch sizes, least recently
 * used first out: training needs two (full and last batch), and a bound keeps a server that
 * sees every batch size from 1 to its maximum from holding a plan for each.
 */
export class PlanCache<P extends { dispose(): void }> {
  static readonly LIMIT = 4;
  private readonly plans = new Map<number, P>();

  constructor(private readonly create: (batch: number) => P) {}

  get(batch: number): P {
    let plan = this.plans.get(batch);
    if (plan) {
      this.plans.delete(batch);
    } else {
      plan = this.create(batch);
    }
    // A Map iterates in insertion order: re-inserting keeps the least recent first.
    this.plans.set(batch, plan);
    if (this.plans.size > PlanCache.LIMIT) {
      const [oldest, stale] = this.plans.entries().next().value!;
      stale.dispose();
      this.plans.delete(oldest);
    }
    return plan;
  }

  dispose(): void {
    for (const plan of this.plans.values()) plan.dispose();
    this.plans.clear();
  }
}
