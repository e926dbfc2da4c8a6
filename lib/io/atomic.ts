/**
 * Atomic file replacement for checkpoints and reports: the bytes go to a temporary file in the
 * target's folder, are fsynced, and the temporary file is renamed over the target. rename(2)
 * swaps the name in one step (POSIX.1-2017, rename: "a link named new shall remain visible to
 * other threads throughout the renaming operation"), so a reader, or a run resumed after a crash,
 * sees the whole old file or the whole new one, never a torn mix. The temporary file must be in
 * the same folder because rename cannot cross file systems.
 *
 * A process killed mid-write (kill -9, a second Ctrl-C, a power cut) leaves its temporary file
 * behind; the next write of the same file removes the ones whose process is gone, and the
 * trainer sweeps its run folder when it starts (a resumed run may never rewrite some files).
 */
import { open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileWriteError } from '../errors';

/**
 * Writes `chunks`, in order, to `file` atomically. The temporary name is `${file}.tmp-<pid>`, so
 * two processes never share one; within a process, do not write the same file twice at once.
 * On any failure the temporary file is removed and `file` is left as it was; a file system error
 * (ENOSPC, EFBIG, EROFS, EACCES, ...) becomes a FileWriteError naming `file`.
 */
export async function writeFileAtomic(
  file: string,
  chunks: Iterable<string | Uint8Array>,
): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  try {
    await removeStaleTemporaries(dirname(file), basename(file));
    const handle = await open(temporary, 'w');
    try {
      await writeFile(handle, chunks);
      // Without this the rename can reach the disk before the data, and a power loss would
      // leave `file` naming an empty or partial file (the ext4 delayed-allocation problem).
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    // The write's own error is the one worth reporting; a failed cleanup only leaves a stray
    // temporary file that the next write to `file` removes.
    await unlink(temporary).catch(() => undefined);
    throw fileWriteError(file, error);
  }
  await syncFolder(dirname(file));
}

/** Whether process `pid` exists (signal 0 checks without sending anything). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`<name>.tmp-<pid>`) in `folder` that processes which no longer
 * exist left behind, only those of `name` when given. A live process's temporary file is its
 * write in progress and stays.
 */
export async function removeStaleTemporaries(folder: string, name?: string): Promise<void> {
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const entry of names) {
    const match = /^(.+)\.tmp-(\d+)$/.exec(entry);
    if (!match || (name !== undefined && match[1] !== name)) continue;
    const pid = Number(match[2]);
    if (pid <= 0 || isAlive(pid)) continue;
    await unlink(join(folder, entry)).catch(() => undefined);
  }
}

/** Makes the rename itself durable: the new name lives in the folder's own data. */
async function syncFolder(folder: string): Promise<void> {
  // Windows cannot open a folder as a file; there the rename is as durable as NTFS makes it.
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
