/**
 * A disk that fills up, a file-size limit, or a read-only run folder while `npm run train`
 * writes its checkpoints or builds its image cache: one clear error line naming the file and the
 * reason, exit code 1, the previous checkpoint intact, no temporary file left, and the run
 * resumes once there is room.
 * The built CLI (dist/) runs in a child process against the real condition:
 *
 * - `ulimit -f` (works everywhere, no privileges): writes past the limit fail with EFBIG;
 * - a small tmpfs filled to the brim (ENOSPC) and a tmpfs remounted read-only (EROFS): these
 *   need mount(8) and root; where that is refused (most CI) they are skipped, saying so. A
 *   non-root user gets the read-only case from chmod instead (EACCES).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint, readSafetensors } from '../lib';
import { CliProcess, expectFreshBuild } from './util/built-cli';

/** 300 MNIST digits at width 1/16: a tenth of a second per epoch, checkpoints of 0.7 MB. */
const CONFIG = [
  ...['--limit', '300', '--width-scale', '0.0625', '--input-size', '67'],
  ...['--batch-size', '16'],
];

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-disk-'));

/** Runs the CLI to its end; resolves to its exit code and output. */
async function trainCli(
  args: string[],
  options = {},
): Promise<{ code: number | null; output: string }> {
  const run = new CliProcess(args, options);
  const { code } = await run.exit;
  return { code, output: run.output };
}

/** Every file of a run folder with its bytes, to show that a failed run changed none. */
function snapshot(out: string): Map<string, Buffer> {
  const files = (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.safetensors'),
  );
  return new Map(files.sort().map((f) => [f, fs.readFileSync(path.join(out, f))]));
}

function temporariesOf(out: string): string[] {
  return (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => /\.tmp-\d+$/.test(f));
}

async function tensorsOf(file: string): Promise<Record<string, number[]>> {
  const { tensors } = await readSafetensors(file);
  return Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, Array.from(v.data)]));
}

/** '' when this process may mount a tmpfs, else why not. */
function mountRefused(): string {
  const dir = tmp();
  const probe = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (probe.status === 0) spawnSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  if (probe.error) return 'mount(8) is not available';
  return probe.status === 0 ? '' : `mount -t tmpfs is refused (${probe.stderr.trim()})`;
}

/** Mounts a tmpfs of `size` at a new folder, runs `body` in it, and unmounts it. */
async function inTmpfs(size: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = tmp();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (mounted.status !== 0) throw new Error(`mount failed: ${mounted.stderr}`);
  try {
    await body(dir);
  } finally {
    spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The checks every case shares: the second epoch's run failed with one line naming a checkpoint
 * and `reason`, left every checkpoint as it was and no temporary file.
 */
function expectCleanFailure(
  out: string,
  before: Map<string, Buffer>,
  failed: { code: number | null; output: string },
  reason: RegExp,
): void {
  expect({ code: failed.code, output: failed.output }).toMatchObject({ code: 1 });
  const line = failed.output.split('\n').find((l) => l.startsWith('error: '));
  expect(line).toMatch(reason);
  expect(failed.output).not.toMatch(/^\s+at /m);
  expect(snapshot(out)).toEqual(before);
  expect(temporariesOf(out)).toEqual([]);
}

const isRoot = process.getuid?.() === 0;
/**
 * The cases that resume run the CLI four times (epoch 1, the failure, the resume, and once the
 * uninterrupted run), about 10 s each on an idle machine of 2 cores; 60 s was reached on one
 * shared with other builds, so three minutes.
 */
const RESUME_TIMEOUT = 180_000;
const mountWhy = mountRefused();

describe('a full disk or a read-only run folder during npm run train (a child process)', () => {
  beforeAll(expectFreshBuild);
  /** The final weights of an uninterrupted two-epoch run, made once for every case. */
  let straight: Promise<Record<string, number[]>> | undefined;
  const uninterrupted = () => {
    straight ??= (async () => {
      const out = tmp();
      expect(await trainCli([...CONFIG, '--epochs', '2', '--out', out])).toMatchObject({ code: 0 });
      return tensorsOf(path.join(out, 'latest.safetensors'));
    })();
    return straight;
  };

  /**
   * Epoch 1, written without trouble, then epoch 2 under `condition`, which must fail cleanly
   * with `reason`; then, once `restore` has given the room or the right to write back, --resume
   * picks up after epoch 1 and ends where an uninterrupted run does.
   */
  async function failSecondEpoch(
    out: string,
    condition: () => Promise<{ code: number | null; output: string }>,
    reason: RegExp,
    restore: () => void,
  ): Promise<void> {
    expect(await trainCli([...CONFIG, '--epochs', '1', '--out', out])).toMatchObject({ code: 0 });
    const before = snapshot(out);
    expect([...before.keys()]).toEqual(['checkpoints/epoch-001.safetensors', 'latest.safetensors']);
    expectCleanFailure(out, before, await condition(), reason);
    expect((await readCheckpoint(path.join(out, 'latest.safetensors'))).training!.epoch).toBe(1);
    restore();
    const resumed = await trainCli(['--resume', '--epochs', '2', '--out', out]);
    expect(resumed).toMatchObject({ code: 0 });
    // It starts from epoch 1's checkpoint: the second epoch, from its first batch.
    expect(resumed.output).toMatch(/resuming \S+ at epoch 2, batch 0/);
    expect(await tensorsOf(path.join(out, 'latest.safetensors'))).toEqual(await uninterrupted());
  }

  test(
    'ulimit -f below a checkpoint: EFBIG names the file; epoch 1 stays; the run resumes',
    async () => {
      const out = tmp();
      await failSecondEpoch(
        out,
        async () => {
          const kib = Math.floor(fs.statSync(path.join(out, 'latest.safetensors')).size / 1024 / 2);
          const args = ['--resume', '--epochs', '2', '--out', out];
          return trainCli(args, { fileSizeLimitKiB: kib });
        },
        /^error: Cannot write (\S+\.safetensors): file too large \(EFBIG\); \1 was left as it was$/,
        // The limit applied to the failed child only.
        () => {},
      );
    },
    RESUME_TIMEOUT,
  );

  (mountWhy === '' ? test : test.skip)(
    `a full tmpfs: ENOSPC names the file; epoch 1 stays; with room, the run resumes${mountWhy && ` (skipped: ${mountWhy})`}`,
    () =>
      inTmpfs('8m', async (dir) => {
        const out = path.join(dir, 'run');
        await failSecondEpoch(
          out,
          async () => {
            // Fill the file system, leaving room for the logs (a few KB) but not a checkpoint.
            const { bavail, bsize } = fs.statfsSync(dir);
            fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(bavail * bsize - 200 * 1024));
            return trainCli(['--resume', '--epochs', '2', '--out', out]);
          },
          /^error: Cannot write (\S+\.safetensors): no space left on device \(ENOSPC\); \1 was left as it was$/,
          () => fs.rmSync(path.join(dir, 'filler')),
        );
      }),
    RESUME_TIMEOUT,
  );

  /** --data on the Kaggle fixture (16 JPEGs, one corrupt), its cache in `cacheDir`. */
  const dataArgs = (cacheDir: string, out: string) => [
    ...['--data', path.join(__dirname, 'fixtures', 'images', 'kaggle'), '--cache-dir', cacheDir],
    ...['--workers', '0', '--input-size', '67', '--width-scale', '0.0625', '--epochs', '1'],
    ...['--batch-size', '4', '--out', out],
  ];

  test('ulimit -f below the image cache: EFBIG names it; with room, the next run builds it', async () => {
    const cacheDir = tmp();
    // 16 images of 76 x 76 x 3 bytes: 277 KB, over a 100 KiB limit.
    const failed = await trainCli(dataArgs(cacheDir, tmp()), { fileSizeLimitKiB: 100 });
    expect({ code: failed.code, output: failed.output }).toMatchObject({ code: 1 });
    expect(failed.output.split('\n').find((l) => l.startsWith('error: '))).toMatch(
      /^error: Cannot write \S+\.cache: file too large \(EFBIG\); nothing was cached$/,
    );
    expect(failed.output).not.toMatch(/^\s+at /m);
    expect(temporariesOf(cacheDir)).toEqual([]);
    expect(await trainCli(dataArgs(cacheDir, tmp()))).toMatchObject({ code: 0 });
  }, 60_000);

  (mountWhy === '' ? test : test.skip)(
    `a tmpfs that fills up mid-build: ENOSPC names the cache; with room, it builds${mountWhy && ` (skipped: ${mountWhy})`}`,
    () =>
      inTmpfs('1m', async (dir) => {
        const cacheDir = path.join(dir, 'cache');
        fs.mkdirSync(cacheDir);
        // Room for a third of the 277 KB of pixels (the file is sparse until written).
        const { bavail, bsize } = fs.statfsSync(dir);
        const filler = path.join(dir, 'filler');
        fs.writeFileSync(filler, Buffer.alloc(bavail * bsize - 96 * 1024));
        const failed = await trainCli(dataArgs(cacheDir, tmp()));
        expect({ code: failed.code, output: failed.output }).toMatchObject({ code: 1 });
        expect(failed.output.split('\n').find((l) => l.startsWith('error: '))).toMatch(
          /^error: Cannot write \S+\.cache: no space left on device \(ENOSPC\); (the \d+ images cached so far are kept; run again to resume|run again) once there is room$/,
        );
        expect(failed.output).not.toMatch(/^\s+at /m);
        expect(temporariesOf(cacheDir)).toEqual([]);
        fs.rmSync(filler);
        expect(await trainCli(dataArgs(cacheDir, tmp()))).toMatchObject({ code: 0 });
        // The cache it ends with is the one a build with room from the start makes.
        const clean = tmp();
        expect(await trainCli(dataArgs(clean, tmp()))).toMatchObject({ code: 0 });
        const pixels = (folder: string) =>
          fs.readFileSync(
            path.join(folder, fs.readdirSync(folder).find((f) => f.endsWith('.cache'))!),
          );
        expect(pixels(cacheDir)).toEqual(pixels(clean));
      }),
    60_000,
  );

  const readOnlyWhy = isRoot ? mountWhy : '';
  (readOnlyWhy === '' ? test : test.skip)(
    `a read-only run folder: one line naming it; epoch 1 stays; writable again, the run resumes${readOnlyWhy && ` (skipped: ${readOnlyWhy})`}`,
    async () => {
      // root writes through chmod: it needs a read-only mount; anyone else, a read-only mode.
      const inFolder = isRoot
        ? (body: (dir: string) => Promise<void>) => inTmpfs('8m', body)
        : async (body: (dir: string) => Promise<void>) => body(tmp());
      await inFolder(async (dir) => {
        const out = path.join(dir, 'run');
        await failSecondEpoch(
          out,
          async () => {
            if (isRoot) {
              const ro = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
              if (ro.status !== 0) throw new Error(`remount failed: ${ro.stderr}`);
            } else {
              for (const f of [out, path.join(out, 'checkpoints')]) fs.chmodSync(f, 0o555);
            }
            return trainCli(['--resume', '--epochs', '2', '--out', out]);
          },
          /^error: Cannot write \S+: (read-only file system \(EROFS\)|permission denied \(EACCES\))/,
          () => {
            if (isRoot) {
              const rw = spawnSync('mount', ['-o', 'remount,rw', dir], { encoding: 'utf8' });
              if (rw.status !== 0) throw new Error(`remount failed: ${rw.stderr}`);
            } else {
              for (const f of [out, path.join(out, 'checkpoints')]) fs.chmodSync(f, 0o755);
            }
          },
        );
      });
    },
    RESUME_TIMEOUT,
  );
});
