/**
 * What the tests that run `mpirun` share: whether they can run here (and why not, for the skipped
 * titles), the environment the ranks get, and finding a rank's process among mpirun's children.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { native } from '../../lib/native';

const hasMpirun = spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).status === 0;

/** Whether the addon has the MPI backend and mpirun is on the PATH. */
export const mpiAvailable = native.mpi && hasMpirun;

/** '' where the MPI tests run; else why not, which every skipped title carries. */
export const mpiWhy = mpiAvailable
  ? ''
  : `${native.mpi ? 'mpirun not found' : 'the addon was built without mpi.h'} (apt-get install openmpi-bin libopenmpi-dev, then npm run build)`;

/** describe, or describe.skip with the reason in its title. */
export const describeMpi = (name: string, body: () => void) =>
  mpiAvailable ? describe(name, body) : describe.skip(`${name} (skipped: ${mpiWhy})`, body);

/** Open MPI refuses root without these; one thread per rank keeps two ranks on two cores. */
export const MPI_ENV = {
  ...process.env,
  OMPI_ALLOW_RUN_AS_ROOT: '1',
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  ALEXNET_NUM_THREADS: '1',
};

/** The parent of each process, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return map;
}

/** The process of MPI rank `rank` (a node process) among the descendants of `root`. */
export function rankProcess(root: number, rank: number): number | undefined {
  const parent = parents();
  const descends = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) return true;
    }
    return false;
  };
  return [...parent.keys()].find((pid) => {
    if (!descends(pid)) return false;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return (
        environ.includes(`OMPI_COMM_WORLD_RANK=${rank}`) &&
        fs.readlinkSync(`/proc/${pid}/exe`) === process.execPath
      );
    } catch {
      return false;
    }
  });
}
