/**
 * The NCCL communicator, Horovod's arrangement for GPUs: MPI launches and places the ranks and
 * carries the host collectives, NCCL sums the CUDA tensors (opened at run time like cuDNN,
 * native/cuda/nccl.h). Rank 0 makes NCCL's unique id and sends it over MPI. The sums are queued
 * on the device's communication stream after the backward that produced them, and run beside the
 * backward of the layers below (overlap, the default); `wait()` queues the point where the
 * device's compute stream waits for them, before the optimiser's update. The host never waits.
 */
import { resolveDevice, searchWheels } from '../device';
import { DistributedError } from '../errors';
import { native } from '../native';
import type { Device, Tensor } from '../tensor';
import type { AllreduceOptions, Communicator } from './communicator';

/** What NCCL needs of the host side: the ranks, and a broadcast for its id (MPI's, normally). */
export type HostCollectives = Pick<
  Communicator,
  'rank' | 'size' | 'localRank' | 'allreduceValuesSync' | 'broadcastSync' | 'abort' | 'dispose'
>;

type NcclFunctions = Required<
  Pick<
    typeof native,
    'ncclUniqueId' | 'ncclInit' | 'ncclAllreduceTensors' | 'ncclWait' | 'ncclDestroy'
  >
>;

/** NCCL_UNIQUE_ID_BYTES (nccl.h; native/cuda/nccl_api_check.cc checks it). */
const ID_BYTES = 128;

export class NcclCommunicator implements Communicator {
  readonly backend: string;
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  private disposed = false;

  private constructor(
    private readonly nccl: NcclFunctions,
    private readonly mpi: HostCollectives,
    private readonly index: number,
    readonly device: Device,
  ) {
    this.rank = mpi.rank;
    this.size = mpi.size;
    this.localRank = mpi.localRank;
    this.backend = `nccl (${native.ncclDescription?.() ?? 'NCCL'})`;
  }

  /** Joins NCCL's communicator on `device` (a CUDA device) with the ranks of `mpi`. */
  static init(mpi: HostCollectives, device: Device): NcclCommunicator {
    if (!native.ncclInit) {
      throw new DistributedError(
        'This build of alexnet-cudnn has no CUDA backend, so no NCCL: build it where nvcc is found',
      );
    }
    const match = /^cuda:(\d+)$/.exec(device);
    if (!match) {
      throw new DistributedError(`Expected a CUDA device for NCCL but received ${device}`);
    }
    resolveDevice(device);
    // NCCL (nvidia-nccl-cu12 / -cu13) may be in the wheels even when cuDNN and cuBLAS were found
    // elsewhere.
    searchWheels();
    const nccl = native as unknown as NcclFunctions;
    const id = mpi.broadcastSync(mpi.rank === 0 ? nccl.ncclUniqueId() : new Uint8Array(ID_BYTES));
    if (id.length !== ID_BYTES) {
      throw new DistributedError(
        `Expected NCCL's unique id of ${ID_BYTES} bytes from rank 0 but received ${id.length} bytes`,
      );
    }
    const index = nccl.ncclInit(id, mpi.rank, mpi.size, Number(match[1]));
    return new NcclCommunicator(nccl, mpi, index, device);
  }

  allreduce(tensors: readonly Tensor[], options: AllreduceOptions = {}): void {
    this.assertLive();
    for (const [i, t] of tensors.entries()) {
      if (t.device !== this.device) {
        throw new DistributedError(
          `Expected tensors on ${this.device} for the NCCL allreduce but received tensors[${i}] on ${t.device}`,
        );
      }
    }
    this.nccl.ncclAllreduceTensors(
      this.index,
      tensors.map((t) => t.handle),
    );
    // Without overlap the ops queued next wait for this sum, as MPI's queue does.
    if (options.overlap === false) this.nccl.ncclWait(this.index);
  }

  /** Queues the compute stream's wait for every sum queued so far; the host does not wait. */
  wait(): void {
    this.assertLive();
    this.nccl.ncclWait(this.index);
  }

  allreduceValuesSync(values: readonly number[], op: 'sum' | 'max' = 'sum'): number[] {
    return this.mpi.allreduceValuesSync(values, op);
  }

  broadcastSync(bytes: Uint8Array, root = 0): Uint8Array {
    return this.mpi.broadcastSync(bytes, root);
  }

  abort(code: number): never {
    return this.mpi.abort(code);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nccl.ncclDestroy(this.index);
    this.mpi.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new DistributedError('This NcclCommunicator has been disposed');
  }
}
