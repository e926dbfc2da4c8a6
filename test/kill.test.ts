/**
 * kill -9 at any moment of `npm run train` never leaves an unreadable checkpoint, and --resume
 * continues from the latest good one: the built CLI (dist/) runs in a child process that is sent
 * a real SIGKILL, over and over, at random times and at the moment a checkpoint write begins (a
 * temporary file appears). After every kill each checkpoint in the run folder must read, and the
 * run, resumed until it finishes, must end with the weights of a run never interrupted, epoch by
 * epoch (resuming from an epoch's end is exact). No temporary file may remain at the end.
 *
 * 8 kills (under a minute on 2 cores) by default; ALEXNET_KILL_LOOP=<n> runs n.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint, readSafetensors } from '../lib';
import { CliProcess, expectFreshBuild } from './util/built-cli';
import { Rng, testSeed } from './util/random';

const KILLS = Number(process.env.ALEXNET_KILL_LOOP ?? 8);
const EPOCHS = 4;
/** 300 MNIST digits at width 1/16: epochs of a tenth of a second, checkpoints of 0.7 MB. */
const CONFIG = [
  ...['--limit', '300', '--width-scale', '0.0625', '--input-size', '67'],
  ...['--batch-size', '16', '--epochs', String(EPOCHS)],
];

/**
 * A file event that means a checkpoint write is under way: a checkpoint's temporary file, or a
 * checkpoint itself (its rename into place when writes are atomic, its first bytes were they
 * not). Not report.html's or another file's temporary: those are not checkpoint writes.
 */
const WRITING = /\.safetensors(\.tmp-\d+)?$/;

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-kill-'));

/** The checkpoints of a run folder: latest.safetensors and checkpoints/epoch-NNN.safetensors. */
function checkpointsOf(out: string): string[] {
  const epochs = path.join(out, 'checkpoints');
  const files = fs.existsSync(epochs)
    ? fs.readdirSync(epochs).map((name) => path.join('checkpoints', name))
    : [];
  return [
    ...files,
    ...(fs.existsSync(path.join(out, 'latest.safetensors')) ? ['latest.safetensors'] : []),
  ]
    .filter((name) => name.endsWith('.safetensors'))
    .sort();
}

/** Temporary files (`*.tmp-<pid>`) anywhere in the run folder, of any file. */
function temporariesOf(out: string): string[] {
  return (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => /\.tmp-\d+$/.test(f));
}

/** The temporary files of checkpoints (`*.safetensors.tmp-<pid>`): a write half done. */
function checkpointTemporariesOf(out: string): string[] {
  return temporariesOf(out).filter((f) => /\.safetensors\.tmp-\d+$/.test(f));
}

async function tensorsOf(file: string): Promise<Record<string, number[]>> {
  const { tensors } = await readSafetensors(file);
  return Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, Array.from(v.data)]));
}

/** Epochs completed according to latest.safetensors, or -1 without one. */
async function latestEpoch(out: string): Promise<number> {
  const file = path.join(out, 'latest.safetensors');
  if (!fs.existsSync(file)) return -1;
  return (await readCheckpoint(file)).training!.epoch;
}

/**
 * Starts (or, with a latest checkpoint, resumes) the run and SIGKILLs it `delay` ms after the
 * start, or, with `delay` null, as soon as a checkpoint write shows in its folder. Resolves to
 * whether it was killed (it may finish first) and whether the kill left a write half done.
 */
async function killOnce(
  out: string,
  delay: number | null,
): Promise<{ killed: boolean; midWrite: boolean }> {
  const resume = fs.existsSync(path.join(out, 'latest.safetensors'));
  const before = await latestEpoch(out);
  const run = new CliProcess(resume ? ['--resume', '--out', out] : [...CONFIG, '--out', out]);
  const kill = () => run.child.kill('SIGKILL');
  const watchers: fs.FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (delay === null) {
    for (const folder of [out, path.join(out, 'checkpoints')]) {
      watchers.push(fs.watch(folder, (_, name) => WRITING.test(name ?? '') && kill()));
    }
  } else {
    timer = setTimeout(kill, delay);
  }
  const { code, signal } = await run.exit;
  clearTimeout(timer);
  for (const w of watchers) w.close();
  if (signal !== 'SIGKILL') expect({ code, output: run.output }).toMatchObject({ code: 0 });
  // A resumed run starts from the checkpoint that was latest when it started.
  const resumedAt = /resuming \S+ at epoch (\d+), batch (\d+)/.exec(run.output);
  if (resumedAt) expect([Number(resumedAt[1]), Number(resumedAt[2])]).toEqual([before + 1, 0]);
  return { killed: signal === 'SIGKILL', midWrite: checkpointTemporariesOf(out).length > 0 };
}

describe('kill -9 during npm run train (real SIGKILLs to a child process)', () => {
  beforeAll(expectFreshBuild);
  const seed = testSeed();

  test(`${KILLS} kills at random moments and mid-write; every checkpoint reads; resuming ends as an uninterrupted run (seed ${seed})`, async () => {
    const rng = new Rng(seed);
    const straight = tmp();
    const started = performance.now();
    const reference = new CliProcess([...CONFIG, '--out', straight]);
    expect(await reference.exit).toMatchObject({ code: 0 });
    const duration = performance.now() - started;

    let kills = 0;
    let midWrite = 0;
    while (kills < KILLS) {
      const out = tmp();
      fs.mkdirSync(path.join(out, 'checkpoints'));
      let finished = false;
      let last = -1;
      while (!finished && kills < KILLS) {
        // Alternately at a random time within an uninterrupted run's length, and at a write.
        const delay = kills % 2 === 0 ? rng.next() * duration : null;
        const result = await killOnce(out, delay);
        finished = !result.killed;
        if (result.killed) kills++;
        if (result.midWrite) midWrite++;
        for (const file of checkpointsOf(out)) {
          await expect(readCheckpoint(path.join(out, file))).resolves.toMatchObject({});
        }
        // The latest checkpoint never goes back.
        const epoch = await latestEpoch(out);
        expect(epoch).toBeGreaterThanOrEqual(last);
        last = epoch;
      }
      if (!finished) expect(await killOnce(out, 600_000)).toMatchObject({ killed: false });
      expect(temporariesOf(out)).toEqual([]);
      expect(checkpointsOf(out)).toEqual(checkpointsOf(straight));
      for (const file of checkpointsOf(straight)) {
        expect([file, await tensorsOf(path.join(out, file))]).toEqual([
          file,
          await tensorsOf(path.join(straight, file)),
        ]);
      }
      fs.rmSync(out, { recursive: true, force: true });
    }
    console.log(`${kills} kills, ${midWrite} of them with a checkpoint write half done`);
    // Without kills that land mid-write the test would not show what it claims.
    expect(midWrite).toBeGreaterThan(0);
    fs.rmSync(straight, { recursive: true, force: true });
  }, 600_000);
});
