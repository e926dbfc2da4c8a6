/**
 * What data-parallel training needs from a collective library: the process's place in the job,
 * sums of gradient tensors over the ranks (queued like every op, so they run in step order and
 * may overlap the rest of the backward), and a few host collectives between steps. Implemented
 * on MPI (mpi-communicator.ts); Horovod's split (arXiv:1802.05799): MPI launches and places the
 * processes, a collective library carries the tensors.
 */
import type { Tensor } from '../tensor';

export interface AllreduceOptions {
  /**
   * Hand the sum to the communication thread and let the queue move on, so the layers below keep
   * computing; `wait()` queues the wait for it. Without, the queue waits for the sum. @default true
   */
  overlap?: boolean;
}

export interface Communicator {
  /** This process's index in the job, 0 to size - 1. */
  readonly rank: number;
  /** How many processes take part. */
  readonly size: number;
  /** This process's index among those on the same machine (picks its GPU). */
  readonly localRank: number;
  /** The library carrying the tensors, for logs. */
  readonly backend: string;
  /** Queues the in-place sum of each tensor over the ranks. Every rank queues the same list. */
  allreduce(tensors: readonly Tensor[], options?: AllreduceOptions): void;
  /** Queues a wait for every allreduce handed off so far. */
  wait(): void;
  /**
   * Sums (or takes the maximum of) `values` over the ranks, blocking; only between steps, when
   * no allreduce is queued (collectives must come in the same order on every rank).
   */
  allreduceValuesSync(values: readonly number[], op?: 'sum' | 'max'): number[];
  /** Rank `root`'s bytes into every rank's buffer, blocking; only between steps. */
  broadcastSync(bytes: Uint8Array, root?: number): Uint8Array;
  /** Ends every process of the job with `code` at once (a rank that cannot go on). */
  abort(code: number): never;
  /** Waits for the queued work, then leaves the job; idempotent. */
  dispose(): void;
}
