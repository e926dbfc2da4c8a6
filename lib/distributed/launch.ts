/**
 * Running one program on every rank of a job: a rank that throws prints its rank and reason and
 * ends the whole job (MPI_Abort), so no other rank waits forever in a collective it will never
 * complete; files already written stay as they are (checkpoints are renamed into place whole).
 */
import { AlexNetError } from '../errors';
import type { Communicator } from './communicator';

/** Runs `main`, then leaves the job; on an error, reports it and aborts every rank with code 1. */
export async function runOnRanks<T>(comm: Communicator, main: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await main();
  } catch (error) {
    const reason =
      error instanceof AlexNetError ? error.message : ((error as Error)?.stack ?? String(error));
    process.stderr.write(`rank ${comm.rank} of ${comm.size} failed: ${reason}\n`);
    return comm.abort(1);
  }
  comm.dispose();
  return result;
}

/** Rank 0's `value` on every rank (a run folder named by rank 0's clock, say). */
export function broadcastString(comm: Communicator, value: string): string {
  const length = comm.broadcastSync(
    new Uint8Array(new Uint32Array([Buffer.byteLength(value)]).buffer),
  );
  const bytes = new Uint8Array(new Uint32Array(length.buffer)[0]);
  if (comm.rank === 0) bytes.set(Buffer.from(value));
  return Buffer.from(comm.broadcastSync(bytes)).toString('utf8');
}
