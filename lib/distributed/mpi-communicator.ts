/**
 * The MPI communicator: Open MPI (or any MPI) launches the ranks (`mpirun -np N`) and sums CPU
 * tensors in place with MPI_Allreduce, on a thread of its own (native/mpi/world.h). Present when
 * the addon was built with mpi.h; otherwise `MpiCommunicator.init()` says what to install.
 */
import { DistributedError } from '../errors';
import { native } from '../native';
import type { Tensor } from '../tensor';
import { integer } from '../validate';
import type { AllreduceOptions, Communicator } from './communicator';

/** The native MPI functions, all present when `native.mpi` is true. */
type MpiFunctions = Required<
  Pick<
    typeof native,
    | 'mpiInit'
    | 'mpiAllreduceTensors'
    | 'mpiWaitReductions'
    | 'mpiAllreduceHost'
    | 'mpiBroadcast'
    | 'mpiAbort'
    | 'mpiFinalize'
  >
>;

export const MPI_MISSING =
  'This build of alexnet-cudnn has no MPI backend: install Open MPI and its headers ' +
  '(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and rebuild with `npm run build`';

export class MpiCommunicator implements Communicator {
  readonly backend = 'mpi';
  private disposed = false;

  private constructor(
    private readonly mpi: MpiFunctions,
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
  ) {}

  /** Joins the MPI job this process was launched in (a job of one without mpirun). */
  static init(): MpiCommunicator {
    if (!native.mpi) throw new DistributedError(MPI_MISSING);
    const mpi = native as unknown as MpiFunctions;
    const { rank, size, localRank } = mpi.mpiInit();
    return new MpiCommunicator(mpi, rank, size, localRank);
  }

  allreduce(tensors: readonly Tensor[], options: AllreduceOptions = {}): void {
    this.assertLive();
    for (const [i, t] of tensors.entries()) {
      if (t.device !== 'cpu') {
        throw new DistributedError(
          `Expected CPU tensors for the MPI allreduce but received tensors[${i}] on ${t.device} ` +
            '(GPU tensors go through NCCL)',
        );
      }
    }
    this.mpi.mpiAllreduceTensors(
      tensors.map((t) => t.handle),
      options.overlap ?? true,
    );
  }

  wait(): void {
    this.assertLive();
    this.mpi.mpiWaitReductions();
  }

  allreduceValuesSync(values: readonly number[], op: 'sum' | 'max' = 'sum'): number[] {
    this.assertLive();
    const buffer = Float64Array.from(values);
    this.mpi.mpiAllreduceHost(buffer, op === 'max');
    return Array.from(buffer);
  }

  broadcastSync(bytes: Uint8Array, root = 0): Uint8Array {
    this.assertLive();
    integer('root', root, 0, this.size - 1);
    this.mpi.mpiBroadcast(bytes, root);
    return bytes;
  }

  abort(code: number): never {
    return this.mpi.mpiAbort(code);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mpi.mpiFinalize();
  }

  private assertLive(): void {
    if (this.disposed) throw new DistributedError('This MpiCommunicator has been disposed');
  }
}
