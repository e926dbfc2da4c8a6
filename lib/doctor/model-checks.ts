/**
 * The model on a device against the same model on the CPU backend: the full-width bvlc AlexNet
 * at batch 16 (logits, a training step's loss and every gradient), and the small AlexNet's
 * public calls (two batch sizes, evaluate, classify, save and load, one epoch of the Trainer).
 * scripts/device/gpu-check.ts and `alexnet doctor` run them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ImageSet, InMemoryDataset } from '../data/dataset';
import { AlexNet } from '../nn/alexnet';
import { classify } from '../predict';
import { Rng } from '../random';
import type { Device } from '../tensor';
import { SGD } from '../train/sgd';
import { Trainer } from '../train/trainer';
import { trainStep } from '../train/training-step';
import { type CheckResult, compare, EXACT, guarded, maxAbs } from './compare';
import { type Scope, scoped } from './scope';

/** The CPU model's parameters copied into `net`. */
export function copyWeights(from: AlexNet, to: AlexNet): void {
  const source = from.parameters();
  to.parameters().forEach((p, i) => {
    p.value.write(source[i].value.toArray());
  });
}

/**
 * The full-width bvlc AlexNet at batch 16, dropout 0.5 inside the network, on `device` and on the
 * CPU with the same weights and inputs: logits, one training step's loss, top-1 count and every
 * weight gradient. cuDNN picks other algorithms at these shapes than at the op checks' small
 * ones. Tolerance 1e-3 of each tensor's largest |value|: sums of up to 48,400 float32 terms (conv1
 * backward filter: 16 x 55 x 55) in different orders through eight layers, and the rare ReLU or
 * max-pool decision that flips on a near-tie moves one element's gradient; a wrong index or a
 * missing group moves them by O(1).
 */
export function runBvlcCheck(device: Device, seed: number): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const options = { preset: 'bvlc' as const, classes: 1000, inputSize: 227, dropout: 0.5, seed };
    const cpu = scope.keep(new AlexNet({ ...options, device: 'cpu' }));
    const gpu = scope.keep(new AlexNet({ ...options, device, init: 'none' }));
    copyWeights(cpu, gpu);
    const n = 16;
    const rng = new Rng(seed + 1);
    const x = rng.normal(n * 3 * 227 * 227, 1);
    const labels = rng.int(n, 1000);
    const rel = (expected: ArrayLike<number>) => ({ rtol: 0, atol: 1e-3 * maxAbs(expected) });
    const logitsC = await cpu.forward(x, n);
    const logitsG = await gpu.forward(x, n);
    const results = [compare('bvlc b16 logits vs CPU', logitsG, logitsC, rel(logitsC))];
    const step = { lr: 0.001, momentum: 0.9, weightDecay: 5e-4 };
    const optC = scope.keep(new SGD(cpu, step));
    const optG = scope.keep(new SGD(gpu, step));
    const c = await trainStep(cpu, optC, { x, labels, n });
    const g = await trainStep(gpu, optG, { x, labels, n });
    results.push(
      compare('bvlc b16 train loss (dropout) vs CPU', [g.loss], [c.loss], { rtol: 1e-4, atol: 0 }),
      compare('bvlc b16 train top-1 vs CPU', [g.correct], [c.correct], EXACT),
    );
    const gpuParams = gpu.parameters();
    cpu.parameters().forEach((p, i) => {
      const expected = p.grad.toArray();
      results.push(
        compare(
          `bvlc b16 grad ${p.name} vs CPU`,
          gpuParams[i].grad.toArray(),
          expected,
          rel(expected),
        ),
      );
    });
    return results;
  });
}

/** A small random image set of `count` images of 4 classes, for the Trainer and classify. */
function randomImages(rng: Rng, count: number, side: number) {
  return {
    images: new Uint8Array(count * side * side * 3).map(() => rng.below(256)),
    count,
    height: side,
    width: side,
    labels: rng.int(count, 4),
    classes: ['a', 'b', 'c', 'd'],
  };
}

/** What the model checks share: the device, the small AlexNet's options and the inputs' Rng. */
interface ModelCheckContext {
  device: Device;
  small: { classes: number; inputSize: number; widthScale: number; seed: number };
  rng: Rng;
}

/** 1e-5 of the largest |logit|: float32 sums in another order through eight layers. */
const rel = (expected: ArrayLike<number>) => ({ rtol: 0, atol: 1e-5 * maxAbs(expected) });

/** Forward at batch 3, 8 and 3 on one model: each layer's buffers grow, then are reused. */
function checkBatchSizes({ device, small, rng }: ModelCheckContext): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
    const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
    copyWeights(cpu, gpu);
    const results: CheckResult[] = [];
    for (const n of [3, 8, 3]) {
      const x = rng.normal(n * 3 * 67 * 67, 1);
      const expected = await cpu.forward(x, n);
      results.push(
        compare(`forward batch ${n} vs CPU`, await gpu.forward(x, n), expected, rel(expected)),
      );
    }
    return results;
  });
}

function checkEvaluate({ device, small, rng }: ModelCheckContext): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
    const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
    copyWeights(cpu, gpu);
    const n = 9;
    const x = rng.normal(n * 3 * 67 * 67, 1);
    const labels = rng.int(n, 4);
    const c = await cpu.evaluate(x, labels, n, 2);
    const g = await gpu.evaluate(x, labels, n, 2);
    return [
      compare('evaluate loss vs CPU', [g.loss], [c.loss], { rtol: 1e-5, atol: 0 }),
      compare(
        'evaluate top-1 and top-2 counts vs CPU',
        [g.correct, g.correctTopK],
        [c.correct, c.correctTopK],
        EXACT,
      ),
    ];
  });
}

function checkClassify({ device, small, rng }: ModelCheckContext): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const cpu = scope.keep(new AlexNet({ ...small, device: 'cpu' }));
    const gpu = scope.keep(new AlexNet({ ...small, device, init: 'none' }));
    copyWeights(cpu, gpu);
    const set = randomImages(rng, 3, 80);
    const pixels = 80 * 80 * 3;
    const images = [0, 1, 2].map((i) => ({
      data: set.images.subarray(i * pixels, (i + 1) * pixels),
      width: 80,
      height: 80,
    }));
    const c = await classify(cpu, images, { top: 4, workers: 0 });
    const g = await classify(gpu, images, { top: 4, workers: 0 });
    const flat = (r: typeof c, key: 'index' | 'probability') =>
      r.flatMap((x) => x.top.map((t) => t[key]));
    return [
      compare('classify classes vs CPU', flat(g, 'index'), flat(c, 'index'), EXACT),
      compare('classify probabilities vs CPU', flat(g, 'probability'), flat(c, 'probability'), {
        rtol: 0,
        atol: 1e-5,
      }),
    ];
  });
}

function checkSaveLoad({ device, small, rng }: ModelCheckContext): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-gpu-check-'));
    try {
      const gpu = scope.keep(new AlexNet({ ...small, device }));
      const file = path.join(dir, 'model.safetensors');
      await gpu.save(file);
      const again = scope.keep(await AlexNet.fromFile(file, { device }));
      const onCpu = scope.keep(await AlexNet.fromFile(file, { device: 'cpu' }));
      const x = rng.normal(2 * 3 * 67 * 67, 1);
      const expected = await gpu.forward(x, 2);
      const cpuLogits = await onCpu.forward(x, 2);
      return [
        compare('loaded on the device: logits', await again.forward(x, 2), expected, EXACT),
        compare('loaded on the CPU: logits vs the device', cpuLogits, expected, rel(expected)),
      ];
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** One epoch of the Trainer on `on`, from the small AlexNet's seeded weights. */
async function trainerEpoch(
  scope: Scope,
  { small }: ModelCheckContext,
  on: Device,
  sets: { train: ImageSet; val: ImageSet },
) {
  const normalisation = {
    mean: [127.5, 127.5, 127.5] as [number, number, number],
    scale: [1 / 73.9, 1 / 73.9, 1 / 73.9] as [number, number, number],
    bgr: false,
  };
  const net = scope.keep(new AlexNet({ ...small, device: on }));
  net.normalisation = normalisation;
  const data = { inputSize: 67, device: on, normalisation };
  const trainSet = scope.keep(new InMemoryDataset(sets.train, data));
  const valSet = scope.keep(new InMemoryDataset(sets.val, data));
  const opt = scope.keep(new SGD(net, { lr: 0.001 }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-gpu-trainer-'));
  try {
    const result = await new Trainer(net, opt, trainSet, valSet, {
      epochs: 1,
      batchSize: 16,
      outDir: dir,
      progress: false,
      log: () => {},
      handleSignals: false,
    }).fit();
    return { metrics: result.history[0], saved: fs.existsSync(result.checkpoint) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function checkTrainerEpoch(context: ModelCheckContext): Promise<CheckResult[]> {
  return scoped(async (scope) => {
    const sets = {
      train: randomImages(context.rng, 64, 72),
      val: randomImages(context.rng, 16, 72),
    };
    const c = await trainerEpoch(scope, context, 'cpu', sets);
    const g = await trainerEpoch(scope, context, context.device, sets);
    // Four steps from the same weights: the float32 differences of each step (1e-5 of
    // the logits, above) grow a little through the updates.
    return [
      compare('trainer epoch: checkpoint written', [Number(g.saved)], [1], EXACT),
      compare('trainer epoch: train loss vs CPU', [g.metrics.trainLoss], [c.metrics.trainLoss], {
        rtol: 1e-3,
        atol: 0,
      }),
      compare(
        'trainer epoch: val accuracy vs CPU',
        [g.metrics.valAccuracy],
        [c.metrics.valAccuracy],
        { rtol: 0, atol: 1 / 16 },
      ),
    ];
  });
}

/**
 * The model's public calls on `device` against the same model on the CPU: forward at two batch
 * sizes on one model (each layer's buffers grow for the larger and are reused for the smaller),
 * evaluate, classify, save and load from the device, and one epoch of the Trainer.
 */
export async function runModelChecks(device: Device, seed: number): Promise<CheckResult[]> {
  const context: ModelCheckContext = {
    device,
    small: { classes: 4, inputSize: 67, widthScale: 1 / 16, seed },
    rng: new Rng(seed + 2),
  };
  const checks: [string, (context: ModelCheckContext) => Promise<CheckResult[]>][] = [
    ['two batch sizes on one model', checkBatchSizes],
    ['evaluate', checkEvaluate],
    ['classify', checkClassify],
    ['save and load from the device', checkSaveLoad],
    ['one epoch of the Trainer', checkTrainerEpoch],
  ];
  const results: CheckResult[] = [];
  for (const [name, check] of checks) results.push(...(await guarded(name, () => check(context))));
  return results;
}
