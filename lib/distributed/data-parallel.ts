/**
 * Synchronous data-parallel training, as Horovod does it (Sergeev & Del Balso 2018,
 * arXiv:1802.05799) and PyTorch's DistributedDataParallel (Li et al., VLDB 2020): every rank holds
 * the whole model and takes its share of each global batch; the gradients are summed over the
 * ranks by allreduce in buckets of about 25 MB (DDP's default bucket_cap_mb), each started as
 * soon as its layers' backward is queued, so the sums of the top layers run while the lower
 * layers still compute. The loss and its gradient are divided by the global batch size on every
 * rank, so the sums are exactly the mean one process with the whole batch would compute; only
 * the order of the float additions differs.
 */
import type { Shard } from '../data/shard';
import { ArgumentError, DistributedError } from '../errors';
import type { AlexNet } from '../nn/alexnet';
import type { Param } from '../nn/layer';
import type { BackwardHooks } from '../nn/pass-types';
import type { Tensor } from '../tensor';
import { boolean, integer } from '../validate';
import type { Communicator } from './communicator';

export interface DataParallelOptions {
  /** The ranks to train with. */
  comm: Communicator;
  /** Gradient bytes per allreduce: a bucket is sent once it holds at least this many. @default 25 MiB */
  bucketBytes?: number;
  /** Sum the buckets on the communication thread while the backward goes on. @default true */
  overlap?: boolean;
}

const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

export class DataParallel {
  readonly comm: Communicator;
  readonly bucketBytes: number;
  readonly overlap: boolean;

  constructor(
    readonly net: AlexNet,
    options: DataParallelOptions,
  ) {
    this.comm = options.comm;
    const onGpu = net.device !== 'cpu';
    if (onGpu !== this.comm.backend.startsWith('nccl')) {
      throw new DistributedError(
        `The ${this.comm.backend} communicator cannot sum gradients on ${net.device}: ` +
          'CPU models take the MPI communicator, GPU models the NCCL one',
      );
    }
    this.bucketBytes = integer('bucketBytes', options.bucketBytes ?? DEFAULT_BUCKET_BYTES, 1);
    this.overlap = boolean('overlap', options.overlap ?? true);
  }

  /** This rank's place, for `Dataset.batches(batchSize, rng, shard)`. */
  get shard(): Shard {
    return { rank: this.comm.rank, size: this.comm.size };
  }

  /**
   * The allreduces of one step on this rank's share of a global batch (from
   * `batches(batchSize, rng, parallel.shard)`), for lib/train's training step: buckets filled
   * top-down as the backward pass queues each layer's gradients, the last one with the step's
   * results [loss, correct], then a wait, so every rank updates with the global sums.
   */
  gradientSync(batch: { n: number; offset?: number; total?: number }): GradientSync {
    if (batch.total === undefined && this.comm.size > 1) {
      throw new ArgumentError(
        `Expected a rank's share of a batch (from batches(batchSize, rng, parallel.shard)) but received a batch of ${batch.n} without offset and total`,
      );
    }
    let bucket: Tensor[] = [];
    let bytes = 0;
    const send = (tensors: Tensor[]) => this.comm.allreduce(tensors, { overlap: this.overlap });
    return {
      afterBackward: (params: readonly Param[]) => {
        for (const p of params) {
          bucket.push(p.grad);
          bytes += 4 * p.grad.size;
        }
        if (bytes >= this.bucketBytes) {
          send(bucket);
          bucket = [];
          bytes = 0;
        }
      },
      beforeUpdate: (results: Tensor) => {
        send([...bucket, results]);
        this.comm.wait();
      },
    };
  }
}

/** The hooks a data-parallel step adds to the training pass, and its last allreduce and wait. */
export interface GradientSync extends Required<Pick<BackwardHooks, 'afterBackward'>> {
  /** Called once every gradient is queued, with the step's results tensor [loss, correct]. */
  beforeUpdate(results: Tensor): void;
}
