/**
 * The trainer and `npm run train`: exact resume (after an epoch and after Ctrl-C mid-epoch), the
 * run folder's files, a diverging run keeping its last good checkpoint, the default MNIST run's
 * accuracy, training on a folder of images (--data) with its cache, and the CLI's flag errors.
 *
 * Ctrl-C is tested as a user meets it: real signals sent to the built CLI (dist/) in a child
 * process, since a signal emitted inside the process cannot show whether its handler gets to run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AlexNet,
  type Batch,
  channelStats,
  type Dataset,
  InMemoryDataset,
  loadMnist,
  NonFiniteLossError,
  type Rng,
  readCheckpoint,
  readSafetensors,
  SGD,
  Trainer,
  type TrainerOptions,
} from '../lib';
import { train } from '../scripts/train';
import { CliProcess, expectFreshBuild } from './util/built-cli';
import { sharpWhy } from './util/optional';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-train-'));

/** Runs the CLI to the end; fails with its output unless it exits 0. */
async function trainToEnd(args: string[]): Promise<string> {
  const run = new CliProcess(args);
  const { code } = await run.exit;
  if (code !== 0) throw new Error(`exit code ${code}:\n${run.output}`);
  return run.output;
}

/** Tensors of a checkpoint, for exact comparison. */
async function tensorsOf(file: string): Promise<Record<string, number[]>> {
  const { tensors } = await readSafetensors(file);
  return Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, Array.from(v.data)]));
}

/** A small, quick configuration: 400 MNIST digits, width 1/16, input 67. */
const QUICK = [
  '--limit',
  '400',
  '--width-scale',
  '0.0625',
  '--input-size',
  '67',
  '--batch-size',
  '16',
];

describe('npm run train', () => {
  let log: jest.SpyInstance;
  beforeAll(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterAll(() => log.mockRestore());

  test('2 epochs equal 1 epoch + --resume for 1, bit for bit; the run folder has its logs', async () => {
    const straight = tmp();
    const resumed = tmp();
    await train([...QUICK, '--epochs', '2', '--out', straight]);
    await train([...QUICK, '--epochs', '1', '--out', resumed]);
    await train(['--resume', '--epochs', '2', '--out', resumed]);
    expect(await tensorsOf(path.join(resumed, 'latest.safetensors'))).toEqual(
      await tensorsOf(path.join(straight, 'latest.safetensors')),
    );
    const files = fs.readdirSync(straight).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'checkpoints',
        'latest.safetensors',
        'metrics.jsonl',
        'report.html',
        'tensorboard',
        'train.log',
      ]),
    );
    expect(fs.readdirSync(path.join(straight, 'checkpoints')).sort()).toEqual([
      'epoch-001.safetensors',
      'epoch-002.safetensors',
    ]);
    const metrics = fs
      .readFileSync(path.join(straight, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2]);
    // Each figure is a real number in its range: typeof 'number' alone would pass NaN.
    const [first, second] = metrics;
    expect(second.trainLoss).toBeGreaterThan(0);
    expect(second.trainLoss).toBeLessThan(Number.POSITIVE_INFINITY);
    for (const key of ['trainAccuracy', 'valAccuracy', 'valTop5']) {
      expect(second[key]).toBeGreaterThanOrEqual(0);
      expect(second[key]).toBeLessThanOrEqual(1);
    }
    expect(second.valTop5).toBeGreaterThanOrEqual(second.valAccuracy);
    // No step decay before epoch 5: both epochs ran at the starting rate.
    expect(second.lr).toBeGreaterThan(0);
    expect(second.lr).toBe(first.lr);
    for (const key of ['imagesPerSecond', 'seconds']) {
      expect(second[key]).toBeGreaterThan(0);
      expect(second[key]).toBeLessThan(Number.POSITIVE_INFINITY);
    }
    expect(fs.readdirSync(path.join(straight, 'tensorboard'))[0]).toMatch(
      /^events\.out\.tfevents\./,
    );
    const checkpoint = await readCheckpoint(path.join(straight, 'latest.safetensors'));
    expect(checkpoint.model.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    // MNIST is stored at the input size (the default 67): the validation crop is all of it.
    expect(checkpoint.model.resize).toEqual({ policy: 'stretch', size: 67 });
    expect(checkpoint.training?.epoch).toBe(2);
  });

  test('--optimizer adam with --warmup-epochs 1: 2 epochs equal 1 epoch + --resume for 1, bit for bit; metrics hold the lr of every step', async () => {
    const straight = tmp();
    const resumed = tmp();
    const flags = [
      ...QUICK,
      '--optimizer',
      'adam',
      '--lr-schedule',
      'none',
      '--warmup-epochs',
      '1',
    ];
    await train([...flags, '--epochs', '2', '--out', straight]);
    await train([...flags, '--epochs', '1', '--out', resumed]);
    await train(['--resume', '--epochs', '2', '--out', resumed]);
    expect(await tensorsOf(path.join(resumed, 'latest.safetensors'))).toEqual(
      await tensorsOf(path.join(straight, 'latest.safetensors')),
    );
    await expect(
      train(['--resume', '--optimizer', 'sgd', '--epochs', '3', '--out', resumed]),
    ).rejects.toThrow('was trained with the adam optimizer and cannot be resumed with sgd');
    const checkpoint = await readCheckpoint(path.join(straight, 'latest.safetensors'));
    expect(checkpoint.training?.optimizer).toBe('adam');
    expect(checkpoint.optimizerState['step.fc8.weight'].data).toEqual(
      Float32Array.of(checkpoint.training!.step),
    );
    const [first, second] = fs
      .readFileSync(path.join(straight, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // torch.optim.Adam's lr 0.001, warmed up over the first epoch's steps from a third of it
    // (LinearLR's start_factor; schedule.test.ts checks the formula against torch). The same
    // formula in doubles, grouped differently: within 5e-16 (2,000 ulps of 0.001), far below a
    // wrong step's difference of 1e-5.
    const steps = first.stepLr.length;
    first.stepLr.forEach((lr: number, i: number) => {
      expect(lr).toBeCloseTo(0.001 * (1 / 3 + ((2 / 3) * i) / steps), 15);
    });
    expect(second.stepLr).toEqual(Array(steps).fill(0.001));
    // The report's learning-rate curve has a point per step of the two epochs.
    const report = fs.readFileSync(path.join(straight, 'report.html'), 'utf8');
    const polylines = [...report.matchAll(/<polyline points="([^"]*)"/g)];
    expect(polylines.map((m) => m[1].split(' ').length)).toContain(2 * steps);
  });

  test('flag errors name the flag', async () => {
    await expect(train(['--epochs', '0'])).rejects.toThrow(
      "Expected positive integer for --epochs but received '0'",
    );
    await expect(train(['--lr-step', 'often'])).rejects.toThrow(
      "Expected a positive integer, 'plateau' or 'none' for --lr-step but received 'often'",
    );
    await expect(train(['--optimizer', 'rmsprop'])).rejects.toThrow(
      "Expected 'sgd', 'adam' or 'adamw' for --optimizer but received 'rmsprop'",
    );
    await expect(train(['--lr-schedule', 'exponential'])).rejects.toThrow(
      "Expected 'step', 'plateau', 'cosine' or 'none' for --lr-schedule but received 'exponential'",
    );
    await expect(train(['--bogus'])).rejects.toThrow("Unknown option '--bogus'");
    await expect(train(['--train-layers', 'fc9'])).rejects.toThrow(
      'in trainLayers but received "fc9"',
    );
  });

  test('--data trains on a folder of images: split, cache, augmentation, a skipped corrupt file', async () => {
    const out = tmp();
    const cacheDir = tmp();
    const kaggle = path.join(__dirname, 'fixtures', 'images', 'kaggle');
    const lines: string[] = [];
    log.mockImplementation((line: string) => lines.push(line));
    await train([
      ...['--data', kaggle, '--cache-dir', cacheDir, '--workers', '0'],
      ...['--epochs', '1', '--input-size', '67', '--width-scale', '0.0625', '--batch-size', '4'],
      ...['--out', out],
    ]);
    log.mockImplementation(() => {});
    const corrupt = path.join(kaggle, 'dog.7.jpg');
    // 'auto' decodes with sharp where it loads, else with jpeg-js, and the log says which; each
    // reports the corrupt file in its own words.
    if (sharpWhy === '') {
      expect(lines).toContainEqual(expect.stringMatching(/^decoder: sharp 0\.35\.\d+, libvips /));
      expect(lines).toContain(
        `skipping ${corrupt}: corrupt or unsupported JPEG (Input buffer has corrupt header: VipsJpeg: premature end of JPEG image)`,
      );
    } else {
      expect(lines).toContainEqual(
        expect.stringMatching(/^decoder: jpeg-js \+ pngjs \(sharp cannot be loaded: /),
      );
      expect(lines).toContain(
        `skipping ${corrupt}: corrupt or unsupported JPEG (unknown JPEG marker 0)`,
      );
    }
    // 16 files, 15 decodable; 1 cat and 1 dog held out.
    expect(lines).toContain(
      `training AlexNet (bvlc, input 67, width x0.0625) on Kaggle-style names in ${kaggle} ` +
        `(2 classes), 15% held out for validation with seed 1: 13 training and 2 validation ` +
        `images, cpu, run folder ${out}`,
    );
    expect(lines.find((l) => l.startsWith('epoch 1/1:'))).toMatch(
      /, 1 unreadable file\(s\) skipped$/,
    );
    expect(fs.readdirSync(cacheDir).sort()).toEqual([
      'images.76-stretch.cache',
      'images.76-stretch.cache.json',
    ]);
    const checkpoint = await readCheckpoint(path.join(out, 'latest.safetensors'));
    expect(checkpoint.model.classNames).toEqual(['cat', 'dog']);
    // What predict needs to preprocess as the validation pass did.
    expect(checkpoint.model.resize).toEqual({ policy: 'stretch', size: 76 });
    expect(checkpoint.training?.config).toMatchObject({
      data: kaggle,
      resize: 'stretch',
      decoder: 'auto',
      'auto-orient': 'false',
      'max-pixels': '100000000',
    });

    // Resuming continues the same shuffles, crops, mirrors and colour shifts.
    await train(['--resume', '--epochs', '2', '--out', out]);
    const straight = tmp();
    await train([
      ...['--data', kaggle, '--cache-dir', cacheDir, '--workers', '0'],
      ...['--epochs', '2', '--input-size', '67', '--width-scale', '0.0625', '--batch-size', '4'],
      ...['--out', straight],
    ]);
    expect(await tensorsOf(path.join(out, 'latest.safetensors'))).toEqual(
      await tensorsOf(path.join(straight, 'latest.safetensors')),
    );
  });

  test('--weights bvlc_alexnet.npy --train-layers fc6,fc7,fc8: the tutorial transfer learning', async () => {
    const out = tmp();
    const kaggle = path.join(__dirname, 'fixtures', 'images', 'kaggle');
    // The 1/16-width, input-99 AlexNet in bvlc_alexnet.npy's format (scripts/make_weights_fixture.py).
    const weights = path.join(__dirname, 'fixtures', 'bvlc', 'small_py2.npy');
    await train([
      ...['--data', kaggle, '--cache-dir', tmp(), '--workers', '0', '--weights', weights],
      // The fixture's random weights on Caffe's 0-255 inputs give large logits: a small lr keeps
      // the loss finite.
      ...['--train-layers', 'fc6,fc7,fc8', '--epochs', '1', '--input-size', '99', '--lr', '1e-5'],
      ...['--width-scale', '0.0625', '--batch-size', '4', '--out', out],
    ]);
    const trained = await readCheckpoint(path.join(out, 'latest.safetensors'));
    const { AlexNet: Net } = await import('../lib');
    const reference = new Net({ device: 'cpu', classes: 10, inputSize: 99, widthScale: 0.0625 });
    await reference.load(weights);
    // conv1-conv5 stay as loaded; fc8 is new (2 classes); inputs follow Caffe's convention.
    for (const p of reference.parameters().filter((q) => q.name.startsWith('conv'))) {
      expect([p.name, Array.from(trained.weights[p.name].data)]).toEqual([
        p.name,
        Array.from(p.value.toArray()),
      ]);
    }
    // fc6 and fc7 were trained: they start from the file and must have moved (a run that
    // froze them, or trained nothing, keeps them equal), and stay finite.
    for (const p of reference.parameters().filter((q) => /^fc[67]\./.test(q.name))) {
      const after = trained.weights[p.name].data;
      const before = p.value.toArray();
      expect([p.name, after.every(Number.isFinite)]).toEqual([p.name, true]);
      expect([p.name, after.some((v, i) => v !== before[i])]).toEqual([p.name, true]);
    }
    const [epoch] = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(epoch.trainLoss).toBeGreaterThan(0);
    expect(epoch.trainLoss).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(trained.weights['fc8.weight'].shape).toEqual([2, 256]);
    expect(trained.model.normalisation).toEqual({
      mean: [123, 117, 104],
      scale: [1, 1, 1],
      bgr: true,
    });
    reference.dispose();
  });

  test('--data errors come before any work', async () => {
    await expect(train(['--data', '/no/such/folder'])).rejects.toThrow(
      '/no/such/folder: no such file or folder',
    );
    await expect(train(['--data', 'x', '--limit', '5'])).rejects.toThrow(
      '--limit applies to the MNIST default; it cannot be used with --data',
    );
    await expect(train(['--resize', 'crop'])).rejects.toThrow(
      "Expected 'stretch' or 'shorter' for --resize but received 'crop'",
    );
    await expect(train(['--pca-std=-1'])).rejects.toThrow(
      "Expected non-negative number for --pca-std but received '-1'",
    );
  });

  // The default configuration of `npm run train` (8 epochs on ~8,500 digits): about two minutes
  // on two cores. The bar: at least 97% validation accuracy.
  test('the default MNIST run reaches >= 97% validation accuracy', async () => {
    const out = tmp();
    await train(['--out', out]);
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last.epoch).toBe(8);
    expect(last.valAccuracy).toBeGreaterThanOrEqual(0.97);
  }, 600_000);
});

describe('Ctrl-C and SIGTERM on npm run train (real signals to a child process)', () => {
  beforeAll(expectFreshBuild);

  // About 850 digits in 54 steps of a few to tens of milliseconds per epoch: the signal, sent at the first
  // progress line (10% into epoch 1), lands mid-epoch with hundreds of milliseconds to spare.
  const MNIST = ['--limit', '1000', '--width-scale', '0.0625', '--input-size', '67'];
  const CONFIG = [...MNIST, '--batch-size', '16', '--epochs', '2'];
  const firstProgress = /epoch 1\/2 \d+% /;

  test('Ctrl-C mid-epoch exits 130 after the step in flight with a checkpoint; resuming matches an uninterrupted run', async () => {
    const straight = tmp();
    await trainToEnd([...CONFIG, '--out', straight]);

    const out = tmp();
    const run = new CliProcess([...CONFIG, '--out', out]);
    await run.waitFor(firstProgress);
    const sent = performance.now();
    run.child.kill('SIGINT');
    const { code, at } = await run.exit;
    expect({ code, output: run.output }).toMatchObject({ code: 130 });
    expect(at - sent).toBeLessThan(5000);
    expect(run.output).toContain(
      'SIGINT: stopping after the current step and saving a checkpoint (again to force quit)',
    );
    expect(run.output).toContain(`interrupted: continue with alexnet train --resume --out ${out}`);
    // Stopped mid-epoch, and the checkpoint says where, as the log does.
    const saved = await readCheckpoint(path.join(out, 'latest.safetensors'));
    const { epoch, batchInEpoch, step } = saved.training!;
    const trainImages = Number(/: (\d+) training and/.exec(run.output)![1]);
    expect(batchInEpoch).toBeGreaterThan(0);
    expect(step).toBe(epoch * Math.ceil(trainImages / 16) + batchInEpoch);
    expect(run.output).toContain(`stopped by SIGINT at epoch ${epoch + 1}, batch ${batchInEpoch};`);
    expect(fs.readdirSync(out).filter((name) => name.includes('.tmp-'))).toEqual([]);
    // The run's log was still open when the stop was logged.
    expect(fs.readFileSync(path.join(out, 'train.log'), 'utf8')).toContain(
      `stopped by SIGINT at epoch ${epoch + 1}, batch ${batchInEpoch};`,
    );

    const resumed = await trainToEnd(['--resume', '--out', out]);
    expect(resumed).toContain(`at epoch ${epoch + 1}, batch ${batchInEpoch}, step ${step}`);
    expect(await tensorsOf(path.join(out, 'latest.safetensors'))).toEqual(
      await tensorsOf(path.join(straight, 'latest.safetensors')),
    );
  }, 120_000);

  test('AdamW with a warmup into a cosine, stopped by Ctrl-C mid-epoch: resuming matches an uninterrupted run, learning rates included', async () => {
    const flags = [
      ...CONFIG,
      '--optimizer',
      'adamw',
      '--lr-schedule',
      'cosine',
      '--warmup-epochs',
      '0.5',
    ];
    const straight = tmp();
    await trainToEnd([...flags, '--out', straight]);
    const out = tmp();
    const run = new CliProcess([...flags, '--out', out]);
    await run.waitFor(firstProgress);
    run.child.kill('SIGINT');
    expect((await run.exit).code).toBe(130);
    const { batchInEpoch } = (await readCheckpoint(path.join(out, 'latest.safetensors'))).training!;
    expect(batchInEpoch).toBeGreaterThan(0);
    await trainToEnd(['--resume', '--out', out]);
    // The names of the tensors that differ, not a diff of every weight, when it fails.
    const [ours, theirs] = await Promise.all(
      [out, straight].map((dir) => tensorsOf(path.join(dir, 'latest.safetensors'))),
    );
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(
      Object.keys(ours).filter((name) => ours[name].some((v, i) => !Object.is(v, theirs[name][i]))),
    ).toEqual([]);
    const stepLrs = (dir: string) =>
      fs
        .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).stepLr);
    expect(stepLrs(out)).toEqual(stepLrs(straight));
  }, 120_000);

  test('SIGTERM mid-epoch exits 143 with a checkpoint', async () => {
    const out = tmp();
    const run = new CliProcess([...CONFIG, '--out', out]);
    await run.waitFor(firstProgress);
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect({ code, output: run.output }).toMatchObject({ code: 143 });
    expect(run.output).toContain('SIGTERM: stopping after the current step');
    const saved = await readCheckpoint(path.join(out, 'latest.safetensors'));
    expect(saved.training!.batchInEpoch).toBeGreaterThan(0);
  }, 60_000);

  test('a second Ctrl-C exits at once, without finishing the stop', async () => {
    // A full-width model: its checkpoint (about 190 MB with the momentum) takes a good part of a
    // second to write and fsync, so the second signal, sent as soon as the first is
    // acknowledged, arrives before the stop is complete.
    const out = tmp();
    const run = new CliProcess([
      ...['--limit', '300', '--width-scale', '1', '--input-size', '127'],
      ...['--batch-size', '32', '--epochs', '2', '--out', out],
    ]);
    await run.waitFor(firstProgress);
    run.child.kill('SIGINT');
    await run.waitFor(/SIGINT: stopping after the current step/);
    const sent = performance.now();
    run.child.kill('SIGINT');
    const { code, at } = await run.exit;
    expect({ code, output: run.output }).toMatchObject({ code: 130 });
    expect(at - sent).toBeLessThan(5000);
    expect(run.output).not.toContain('stopped by SIGINT');
    expect(fs.existsSync(path.join(out, 'latest.safetensors'))).toBe(false);
  }, 60_000);
});

describe('Ctrl-C while npm run train builds the image cache (a real signal to a child process)', () => {
  beforeAll(expectFreshBuild);

  test('exits 130 keeping the images cached so far; the next run resumes the build', async () => {
    // 100 copies of the Kaggle fixture: a build of a few seconds, long enough to interrupt.
    const images = tmp();
    const kaggle = path.join(__dirname, 'fixtures', 'images', 'kaggle');
    const fixtures = fs.readdirSync(kaggle);
    for (let copy = 0; copy < 100; ++copy) {
      for (const name of fixtures) {
        const [label, index] = name.split('.');
        fs.copyFileSync(path.join(kaggle, name), path.join(images, `${label}.${copy}${index}.jpg`));
      }
    }
    const args = [
      ...['--data', images, '--workers', '0', '--input-size', '67', '--width-scale', '0.0625'],
      ...['--epochs', '1', '--batch-size', '32', '--out', tmp()],
    ];
    const run = new CliProcess(args);
    await run.waitFor(/caching \S+ \d+% /);
    const sent = performance.now();
    run.child.kill('SIGINT');
    const { code, at } = await run.exit;
    expect({ code, output: run.output }).toMatchObject({ code: 130 });
    expect(at - sent).toBeLessThan(5000);
    expect(run.output).toContain(
      'SIGINT: saving the image cache built so far (again to force quit)',
    );
    const stopped = /was interrupted after (\d+) of 1600 images; run again to resume/.exec(
      run.output,
    );
    expect(stopped).not.toBeNull();
    const done = Number(stopped![1]);
    expect(done).toBeLessThan(1600);

    const resumed = await trainToEnd(args);
    expect(resumed).toMatch(new RegExp(`resuming the image cache .*: ${done} of 1600 images done`));
  }, 120_000);
});

describe('Trainer', () => {
  const size = 67;
  const data = loadMnist({ size, seed: 3, limit: 300 });
  const stats = channelStats(data.train);
  const normalisation = {
    mean: stats.mean as [number, number, number],
    scale: stats.std.map((s) => 1 / s) as [number, number, number],
    bgr: false,
  };
  const setup = () => {
    const net = new AlexNet({
      device: 'cpu',
      classes: 10,
      inputSize: size,
      widthScale: 0.0625,
      seed: 4,
    });
    net.normalisation = normalisation;
    const options = { inputSize: size, device: net.device, normalisation };
    return {
      net,
      opt: new SGD(net, { lr: 0.005 }),
      trainSet: new InMemoryDataset(data.train, options),
      valSet: new InMemoryDataset(data.val, options),
    };
  };
  const quiet: Partial<TrainerOptions> = { progress: false, log: () => {} };

  test('a diverging step stops the run, naming the step, and keeps the last good checkpoint', async () => {
    const s = setup();
    const out = tmp();
    // The real batches, with the inputs of every batch of epoch 2 made NaN.
    let epoch = 0;
    const poisoned: Dataset = {
      length: s.trainSet.length,
      classes: s.trainSet.classes,
      async *batches(batchSize: number, rng?: Rng): AsyncIterable<Batch> {
        epoch++;
        for await (const batch of s.trainSet.batches(batchSize, rng)) {
          if (epoch === 2) batch.x.fill(Number.NaN);
          yield batch;
        }
      },
      dispose: () => {},
    };
    const trainer = new Trainer(s.net, s.opt, poisoned, s.valSet, {
      ...quiet,
      epochs: 3,
      batchSize: 16,
      outDir: out,
    });
    const stepsPerEpoch = Math.ceil(s.trainSet.length / 16);
    const error = await trainer.fit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toBe(
      `Loss became NaN at step ${stepsPerEpoch}; no weights were updated. Try a lower learning rate (--lr).`,
    );
    const latest = await readCheckpoint(path.join(out, 'latest.safetensors'));
    expect(latest.training).toMatchObject({ epoch: 1, step: stepsPerEpoch });
    s.net.dispose();
    s.opt.dispose();
    s.trainSet.dispose();
    s.valSet.dispose();
  });
});
