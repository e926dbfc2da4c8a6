/**
 * `--distributed` on a build without the MPI backend (the addon built where mpi.h was absent):
 * the train command stops before any work with the message that says what to install. The
 * build here may have MPI, so the addon's `mpi` flag is replaced by false for this file alone;
 * the rest of the addon is the real one.
 */
jest.mock('../lib/native', () => {
  const actual = jest.requireActual('../lib/native');
  return { ...actual, native: { ...actual.native, mpi: false } };
});

import { MPI_MISSING } from '../lib/distributed/mpi-communicator';
import { DistributedError } from '../lib/errors';
import { train } from '../scripts/train';

test('--distributed on a build without MPI fails at once, saying what to install', async () => {
  const run = train(['--distributed', '--limit', '16', '--epochs', '1', '--out', '/nonexistent']);
  await expect(run).rejects.toThrow(DistributedError);
  await expect(run).rejects.toThrow(MPI_MISSING);
});
