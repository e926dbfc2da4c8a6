/**
 * lib/io/atomic.ts: the temporary files that killed processes leave behind are removed at the
 * next write of the same file, and only those: a live process's temporary file is its write in
 * progress. The processes here are real: one that exited (its pid is gone) and this test's
 * parent (alive).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWriteError } from '../lib/errors';
import { writeFileAtomic } from '../lib/io/atomic';

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'alexnet-atomic-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The pid of a process that has run and exited, having written its half of a temporary file. */
function deadWriter(file: string): number {
  const child = spawnSync(
    process.execPath,
    ['-e', `require('fs').writeFileSync(${JSON.stringify(file)} + '.tmp-' + process.pid, 'half')`],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  return child.pid!;
}

test("the next write removes a dead process's temporary file and keeps a live one's", async () => {
  const file = join(folder, 'latest.safetensors');
  const dead = deadWriter(file);
  const live = `latest.safetensors.tmp-${process.ppid}`;
  writeFileSync(join(folder, live), 'in progress');
  // Another file's temporaries are not this write's business.
  const other = `epoch-001.safetensors.tmp-${dead}`;
  writeFileSync(join(folder, other), 'half');
  expect(readdirSync(folder)).toContain(`latest.safetensors.tmp-${dead}`);

  await writeFileAtomic(file, ['whole']);
  expect(readFileSync(file, 'utf8')).toBe('whole');
  expect(readdirSync(folder).sort()).toEqual([other, 'latest.safetensors', live].sort());
});

test('a file system error names the file, the reason and the code', async () => {
  const file = join(folder, 'no-such-folder', 'latest.safetensors');
  const error = await writeFileAtomic(file, ['x']).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FileWriteError);
  expect(error).toMatchObject({
    code: 'ENOENT',
    message: `Cannot write ${file}: no such file or directory (ENOENT); ${file} was left as it was`,
  });
});
