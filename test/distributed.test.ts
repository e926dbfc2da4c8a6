/**
 * Data-parallel training on MPI, as a user runs it: `mpirun -np 2 ... train.js --distributed`
 * (the built CLI, dist/) against one process with the same flags, on the image fixtures with
 * random crops, mirrors, the PCA colour shift and dropout on. 13 training images in batches of 4
 * end with a batch of 1: rank 0 takes it and rank 1 none, so the uneven split and the empty share
 * are both on the path. Skipped, saying so, where the addon has no MPI backend or mpirun is absent.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint, readSafetensors } from '../lib';
import { AlexNet } from '../lib/nn/alexnet';
import { CLI, expectFreshBuild } from './util/built-cli';
import { relativeError } from './util/compare';
import { describeMpi, MPI_ENV, rankProcess } from './util/mpi-job';

const ROOT = path.join(__dirname, '..');
const IMAGES = path.join(ROOT, 'test', 'fixtures', 'images', 'kaggle');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-mpi-'));

/** Runs a command to its end: exit code and output (stdout then stderr). */
function runToEnd(
  command: string,
  args: string[],
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: MPI_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** `mpirun -np ranks node script args` with each line tagged [job,rank]<stream>. */
const mpirun = (ranks: number, script: string, args: string[]) =>
  runToEnd('mpirun', [
    '--oversubscribe',
    '--tag-output',
    '-np',
    String(ranks),
    process.execPath,
    script,
    ...args,
  ]);

async function expectSuccess(run: Promise<{ code: number | null; output: string }>) {
  const { code, output } = await run;
  if (code !== 0) throw new Error(`exit code ${code}:\n${output}`);
  return output;
}

async function tensorsOf(file: string): Promise<Record<string, Float32Array>> {
  const { tensors } = await readSafetensors(file);
  return Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.data as Float32Array]));
}

const metricsOf = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(line) as { trainLoss: number; trainAccuracy: number; valAccuracy: number },
    );

/** Small network, input 67, two epochs; augmentation and dropout at their defaults (on). */
const flags = (cacheDir: string, out: string, epochs = 2) => [
  '--data',
  IMAGES,
  '--cache-dir',
  cacheDir,
  '--out',
  out,
  '--device',
  'cpu',
  '--width-scale',
  '0.0625',
  '--input-size',
  '67',
  '--batch-size',
  '4',
  '--epochs',
  String(epochs),
];

describeMpi('mpirun -np 2 train --distributed', () => {
  const cache = tmp();
  const single = path.join(tmp(), 'run');
  const ranks = path.join(tmp(), 'run');
  let rankOutput = '';

  beforeAll(async () => {
    expectFreshBuild();
    await expectSuccess(runToEnd(process.execPath, [CLI, ...flags(cache, single)]));
    rankOutput = await expectSuccess(mpirun(2, CLI, ['--distributed', ...flags(cache, ranks)]));
  }, 240_000);

  test('2 ranks train the model 1 process trains, up to float summation order', async () => {
    const one = await tensorsOf(path.join(single, 'latest.safetensors'));
    const two = await tensorsOf(path.join(ranks, 'latest.safetensors'));
    expect(Object.keys(two).sort()).toEqual(Object.keys(one).sort());
    const far: { name: string; relative: number }[] = [];
    for (const [name, a] of Object.entries(one)) {
      const relative = relativeError(two[name], a);
      // Each rank sums its rows' gradients, then MPI adds the two sums: the same terms in another
      // order, a few float32 ulps per step (2^-24 relative each). Eight steps of SGD with momentum
      // keep that far below 1e-5 of the tensor's scale (1e-7 measured); a wrong share, mask or
      // mean moves the weights by far more.
      if (!(relative < 1e-5)) far.push({ name, relative });
    }
    expect(far).toEqual([]);
    const [m1, m2] = [metricsOf(single), metricsOf(ranks)];
    expect(m2.length).toBe(2);
    for (let e = 0; e < m1.length; ++e) {
      expect(m2[e].trainLoss).toBeCloseTo(m1[e].trainLoss, 5);
      expect(m2[e].trainAccuracy).toBe(m1[e].trainAccuracy);
      expect(m2[e].valAccuracy).toBe(m1[e].valAccuracy);
    }
  });

  test('with --optimizer adam, 2 ranks train the model 1 process trains, up to float summation order', async () => {
    const [one, two] = [path.join(tmp(), 'run'), path.join(tmp(), 'run')];
    const adam = (out: string) => [...flags(cache, out, 1), '--optimizer', 'adam'];
    await expectSuccess(runToEnd(process.execPath, [CLI, ...adam(one)]));
    await expectSuccess(mpirun(2, CLI, ['--distributed', ...adam(two)]));
    const [a, b] = [
      await tensorsOf(path.join(one, 'latest.safetensors')),
      await tensorsOf(path.join(two, 'latest.safetensors')),
    ];
    const far: { name: string; relative: number }[] = [];
    for (const [name, t] of Object.entries(a)) {
      const relative = relativeError(b[name], t);
      // The checkpoint holds Adam's moments too. The summation-order ulps of the test above reach
      // the moments as they reach the gradients (1e-6 of their scale measured, exp_avg_sq the
      // largest), and the weights through an update lr * m / sqrt(v) that a relative change in
      // the gradient barely moves (1e-7 measured). A gradient left unaveraged doubles exp_avg,
      // though the update, invariant to the gradient's scale, would hide it.
      if (!(relative < 1e-5)) far.push({ name, relative });
    }
    expect(far).toEqual([]);
  }, 240_000);

  test('rank 0 alone prints and writes the run folder', () => {
    const lines = rankOutput.split('\n').filter((line) => line.trim() !== '');
    const fromOthers = lines.filter((line) => /^\[\d+,[1-9]\d*\]/.test(line));
    expect(fromOthers).toEqual([]);
    expect(lines.filter((line) => line.includes('training AlexNet'))).toHaveLength(1);
    // Two writers would append every line of train.log twice.
    const log = fs.readFileSync(path.join(ranks, 'train.log'), 'utf8').trim().split('\n');
    const epochLines = log.filter((line) => /epoch \d\/2:/.test(line));
    expect(epochLines).toHaveLength(2);
  });

  test('--resume with 2 ranks continues exactly', async () => {
    const resumed = path.join(tmp(), 'run');
    await expectSuccess(mpirun(2, CLI, ['--distributed', ...flags(cache, resumed, 1)]));
    await expectSuccess(
      mpirun(2, CLI, [
        '--distributed',
        '--resume',
        '--epochs',
        '2',
        '--out',
        resumed,
        '--device',
        'cpu',
      ]),
    );
    const straight = await tensorsOf(path.join(ranks, 'latest.safetensors'));
    const after = await tensorsOf(path.join(resumed, 'latest.safetensors'));
    for (const name of Object.keys(straight)) {
      expect({
        name,
        same: Buffer.compare(Buffer.from(after[name].buffer), Buffer.from(straight[name].buffer)),
      }).toEqual({ name, same: 0 });
    }
  }, 120_000);

  test('a rank that throws ends the job, naming its rank and reason; the checkpoint stays', async () => {
    const out = path.join(tmp(), 'run');
    // A program of the user's own on the library, whose rank 1 fails in epoch 2.
    const program = path.join(tmp(), 'failing-rank.js');
    fs.writeFileSync(
      program,
      `const lib = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib'))});
const comm = lib.MpiCommunicator.init();
lib.runOnRanks(comm, async () => {
  const { train, val } = lib.loadMnist({ size: 67, seed: 1, limit: 64 });
  const normalisation = { mean: [0, 0, 0], scale: [1 / 255, 1 / 255, 1 / 255], bgr: false };
  const options = { inputSize: 67, device: 'cpu', normalisation };
  const net = new lib.AlexNet({ preset: 'paper', classes: 10, inputSize: 67, widthScale: 0.0625, device: 'cpu', seed: 1 });
  const trainer = new lib.Trainer(net, new lib.SGD(net, { lr: 0.01 }),
    new lib.InMemoryDataset(train, options), new lib.InMemoryDataset(val, options), {
      epochs: 3, batchSize: 8, outDir: ${JSON.stringify(out)}, progress: false,
      parallel: new lib.DataParallel(net, { comm }),
      onBatchEnd: ({ epoch, batch }) => {
        if (comm.rank === 1 && epoch === 2 && batch === 2) throw new Error('disk full on rank 1');
      },
    });
  await trainer.fit();
});
`,
    );
    const { code, output } = await mpirun(2, program, []);
    expect(code).not.toBe(0);
    expect(output).toContain('rank 1 of 2 failed: Error: disk full on rank 1');
    const checkpoint = await readCheckpoint(path.join(out, 'latest.safetensors'));
    expect(checkpoint.training?.epoch).toBe(1);
  }, 120_000);

  test('a rank that dies ends the job; rank 0 stops and the checkpoint stays', async () => {
    const out = path.join(tmp(), 'run');
    const args = [
      '--oversubscribe',
      '--tag-output',
      '-np',
      '2',
      process.execPath,
      CLI,
      '--distributed',
      '--limit',
      '400',
      '--width-scale',
      '0.0625',
      '--input-size',
      '67',
      '--batch-size',
      '8',
      '--epochs',
      '50',
      '--device',
      'cpu',
      '--out',
      out,
    ];
    const child = spawn('mpirun', args, {
      cwd: ROOT,
      env: MPI_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const check = (chunk: Buffer) => {
        output += chunk;
        if (/epoch 1\/50: loss/.test(output)) resolve();
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      exited.then(() => reject(new Error(`mpirun ended first:\n${output}`)));
    });
    const victim = rankProcess(child.pid!, 1);
    expect(victim).toBeDefined();
    process.kill(victim!, 'SIGKILL');
    const code = await exited;
    expect(code).not.toBe(0);
    expect(output).toMatch(/rank 1 with PID \d+ on node \S+ exited on signal 9/);
    const checkpoint = await readCheckpoint(path.join(out, 'latest.safetensors'));
    expect(checkpoint.training?.epoch).toBeGreaterThanOrEqual(1);
  }, 120_000);

  test('a global batch that does not divide by the ranks is refused, naming it', async () => {
    const { code, output } = await mpirun(2, CLI, [
      '--distributed',
      ...flags(cache, path.join(tmp(), 'run'), 1),
      '--batch-size',
      '5',
    ]);
    expect(code).not.toBe(0);
    expect(output).toContain('failed: Expected batchSize divisible by the 2 ranks but received 5');
  }, 60_000);
});

describeMpi('the bucketed allreduce (test/util/mpi-buckets.js, 3 steps of a small model)', () => {
  const script = path.join(__dirname, 'util', 'mpi-buckets.js');
  /** The JSON rank 0 writes: the job's size, the first step's event log, the final weights. */
  interface Run {
    size: number;
    log: ({ event: 'backward'; params: string[] } | { event: 'allreduce'; tensors: string[] })[];
    weights: Record<string, number[]>;
  }
  const readRun = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Run;
  // 40 KiB per bucket: the small model's layers hold 17 KB (conv1) to 1 MB (fc7) of gradients,
  // so the buckets are, top-down, fc8 + fc7, fc6, conv5 + conv4, conv3, and conv2 + conv1 with
  // the results: five sums, some of one layer and some of two.
  const model = new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 8, device: 'cpu' });
  const bucketBytes = 40 * 1024;
  const names = model.parameters().map((p) => p.name);
  afterAll(() => model.dispose());

  let single: Run;
  beforeAll(async () => {
    expectFreshBuild();
    const out = path.join(tmp(), 'one.json');
    await expectSuccess(runToEnd(process.execPath, [script, out, String(bucketBytes), 'true']));
    single = readRun(out);
  }, 120_000);

  test.each([true, false])(
    "overlap %p: 2 ranks in 5 buckets train the model 1 process trains; the first bucket is queued before the lowest layer's backward",
    async (overlap) => {
      const out = path.join(tmp(), 'two.json');
      await expectSuccess(mpirun(2, script, [out, String(bucketBytes), String(overlap)]));
      const two = readRun(out);
      expect([single.size, two.size]).toEqual([1, 2]);

      // The log: backwards top-down; each allreduce sums exactly the gradients of the backwards
      // queued since the one before it; the last one adds the results, then nothing follows.
      const allreduces = two.log.filter((e) => e.event === 'allreduce');
      expect(allreduces.map((e) => e.tensors.length)).toEqual([4, 2, 4, 2, 5]);
      let pending: string[] = [];
      for (const e of two.log) {
        if (e.event === 'backward') pending.push(...e.params);
        else {
          const last = e === allreduces[allreduces.length - 1];
          expect(e.tensors).toEqual(last ? [...pending, 'results'] : pending);
          pending = [];
        }
      }
      expect(two.log[two.log.length - 1].event).toBe('allreduce');
      const backwards = two.log.flatMap((e) => (e.event === 'backward' ? e.params : []));
      expect([...backwards].sort()).toEqual([...names].sort());
      // The first sum is queued while layers below it still have their backward to come; the
      // executor runs ops in the order they were queued (native/core/executor.h), so with overlap
      // the sum is handed to the communication thread before those backwards run.
      const firstSum = two.log.indexOf(allreduces[0]);
      const lastBackward = two.log.map((e) => e.event).lastIndexOf('backward');
      expect(firstSum).toBeLessThan(lastBackward);

      // Each rank sums its rows' gradients and MPI adds the two sums: the same terms in another
      // order, a few float32 ulps per step. Three steps of SGD with momentum keep that far below
      // 1e-5 of each tensor's scale (as the CLI test above); a wrong or missing bucket, or a
      // bucket summed twice, moves the weights by far more.
      const far: { name: string; relative: number }[] = [];
      for (const name of names) {
        const relative = relativeError(two.weights[name], single.weights[name]);
        if (!(relative < 1e-5)) far.push({ name, relative });
      }
      expect(far).toEqual([]);
    },
    120_000,
  );
});
