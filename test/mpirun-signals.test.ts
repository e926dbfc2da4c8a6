/**
 * Ctrl-C on `mpirun -np 2 alexnet train --distributed`, as a terminal sends it: SIGINT to the
 * foreground process group, here mpirun's own group (mpirun puts each rank in a group of its own,
 * so the ranks hear only what mpirun forwards). Open MPI forwards it to every rank as SIGTERM
 * (after SIGCONT and its `odls_base_sigkill_timeout`, 1 s by default, then SIGKILL as long again
 * later); the ranks stop after the same step, rank 0 saves the checkpoint, and `--resume` under
 * mpirun continues from it to the weights of a run never interrupted. Also a signal to one rank
 * alone, which stops both. The built CLI (dist/) in real processes; skipped, saying why, where
 * mpirun or the addon's MPI backend is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint, readSafetensors } from '../lib';
import { CliProcess, expectFreshBuild } from './util/built-cli';
import { describeMpi, MPI_ENV, rankProcess } from './util/mpi-job';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-mpirun-signal-'));

/**
 * About 850 MNIST digits at width 1/16 in 54 steps of 16 per epoch (8 per rank). 40 epochs: a
 * wall-clock margin, the one this file keeps. The run lasts over 6 s on 2 cores (0.17 s an epoch
 * at the fastest measured here), six times the second Open MPI waits before it forwards the
 * signal, so the stop lands before the end; a loaded machine only widens that margin.
 */
const MNIST = ['--limit', '1000', '--width-scale', '0.0625', '--input-size', '67'];
const flags = (epochs: number, out: string) => [
  '--distributed',
  ...MNIST,
  ...['--batch-size', '16', '--epochs', String(epochs), '--device', 'cpu', '--out', out],
];
/** Steps per epoch of batch 16, from the training images the run reports. */
const stepsPerEpoch = (output: string) =>
  Math.ceil(Number(/: (\d+) training and/.exec(output)![1]) / 16);
const firstProgress = /epoch 1\/40 \d+% /;

/** `mpirun -np 2` running the train CLI, in a process group of its own as a shell's job. */
const mpirunTrain = (args: string[]) =>
  new CliProcess(args, {
    launcher: ['mpirun', '--oversubscribe', '--tag-output', '-np', '2'],
    env: MPI_ENV,
    ownProcessGroup: true,
  });

/** Runs the job to its end; fails with its output unless it exits 0. */
async function finish(job: CliProcess): Promise<string> {
  const { code } = await job.exit;
  if (code !== 0) throw new Error(`mpirun exited ${code}:\n${job.output}`);
  return job.output;
}

async function tensorsOf(file: string): Promise<Record<string, Buffer>> {
  const { tensors } = await readSafetensors(file);
  return Object.fromEntries(
    Object.entries(tensors).map(([k, v]) => [
      k,
      Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength),
    ]),
  );
}

const epochsOf = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { epoch: number }).epoch);

/** Lines of the job's output that rank 1 printed (mpirun's --tag-output: `[job,rank]<stream>:`). */
const fromRank1 = (output: string) => output.split('\n').filter((l) => /^\[\d+,1\]/.test(l));

describeMpi('Ctrl-C on mpirun -np 2 train --distributed (real signals to real processes)', () => {
  beforeAll(expectFreshBuild);
  const jobs: CliProcess[] = [];
  // A failed assertion must not leave a job training: end each group still running.
  afterAll(() => {
    for (const job of jobs) {
      if (job.child.exitCode === null && job.child.signalCode === null) {
        process.kill(-job.child.pid!, 'SIGKILL');
      }
    }
  });

  test("SIGINT to mpirun's process group: the ranks stop after the same step, rank 0 saves, and --resume under mpirun ends with an uninterrupted run's weights", async () => {
    const out = tmp();
    const job = mpirunTrain(flags(40, out));
    jobs.push(job);
    await job.waitFor(firstProgress);
    process.kill(-job.child.pid!, 'SIGINT');
    // Open MPI's second wall-clock bound: SIGKILL follows its SIGTERM by a second, within which
    // rank 0 must finish the step and write a 0.7 MB checkpoint (a few ms measured here).
    await job.exit;
    // Each rank heard SIGTERM from mpirun and stopped; none was killed or failed (a rank that
    // stopped at another step would block in a collective until mpirun's SIGKILL).
    expect(job.output).toContain(
      'SIGTERM: stopping after the current step and saving a checkpoint (again to force quit)',
    );
    expect(job.output).toContain(`interrupted: continue with alexnet train --resume --out ${out}`);
    expect(job.output).not.toMatch(/exited on signal|failed:/);
    expect(fromRank1(job.output)).toEqual([]);

    const { epoch, batchInEpoch, step } = (
      await readCheckpoint(path.join(out, 'latest.safetensors'))
    ).training!;
    // Stopped well before the 40 epochs, where the log says (mid-epoch unless the signal came
    // during the evaluation at an epoch's end, which saves the epoch's checkpoint instead).
    expect(epoch).toBeLessThan(39);
    const steps = stepsPerEpoch(job.output);
    expect(step).toBe(epoch * steps + batchInEpoch);
    if (batchInEpoch > 0) {
      expect(job.output).toContain(
        `stopped by SIGTERM at epoch ${epoch + 1}, batch ${batchInEpoch};`,
      );
    }

    // Resumed to the end of the epoch the stop fell in; a straight run of as many epochs.
    const epochs = epoch + 1;
    const resumed = await finish(
      mpirunTrain(['--distributed', '--resume', '--epochs', String(epochs), '--out', out]),
    );
    expect(resumed).toContain(`at epoch ${epoch + 1}, batch ${batchInEpoch}, step ${step}`);
    const straight = tmp();
    await finish(mpirunTrain(flags(epochs, straight)));
    const [ours, theirs] = await Promise.all(
      [out, straight].map((dir) => tensorsOf(path.join(dir, 'latest.safetensors'))),
    );
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    // Bitwise: a resume restores every weight, momentum and random stream exactly, and the two
    // ranks sum in the same order in both runs.
    expect(Object.keys(ours).filter((name) => !ours[name].equals(theirs[name]))).toEqual([]);
    expect(epochsOf(out)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect((await readCheckpoint(path.join(out, 'latest.safetensors'))).training!.step).toBe(
      epochs * steps,
    );
  }, 180_000);

  test('SIGTERM to rank 1 alone stops rank 0 too, after the same step, and rank 0 saves', async () => {
    const out = tmp();
    const job = mpirunTrain(flags(40, out));
    jobs.push(job);
    await job.waitFor(firstProgress);
    const rank1 = rankProcess(job.child.pid!, 1);
    expect(rank1).toBeDefined();
    process.kill(rank1!, 'SIGTERM');
    const { code } = await job.exit;
    // Both ranks exit 143 (128 + SIGTERM), so mpirun reports a failure; none was killed.
    expect(code).not.toBe(0);
    expect(job.output).not.toMatch(/exited on signal|failed:/);
    // Rank 0 heard nothing itself (it would have said so) yet stopped, agreeing with rank 1.
    expect(job.output).not.toContain('SIGTERM: stopping after the current step');
    expect(job.output).toContain(`interrupted: continue with alexnet train --resume --out ${out}`);
    const { epoch, batchInEpoch, step } = (
      await readCheckpoint(path.join(out, 'latest.safetensors'))
    ).training!;
    expect(epoch).toBeLessThan(39);
    expect(step).toBe(epoch * stepsPerEpoch(job.output) + batchInEpoch);
  }, 120_000);
});
