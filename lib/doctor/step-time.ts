/**
 * The time of one training step of the full-width bvlc AlexNet at batch 128 (the paper's and
 * Caffe's batch; DESIGN.md, Model) on a device: forward, backward and the SGD update, one
 * readback. Two steps warm up first (cuDNN's algorithm search, the caching allocator), then the
 * median of three is reported: a figure for a bug report, not a benchmark (npm run bench -- train
 * is that).
 */
import { AlexNet } from '../nn/alexnet';
import { Rng } from '../random';
import type { Device } from '../tensor';
import { SGD } from '../train/sgd';
import { trainStep } from '../train/training-step';

export interface StepTime {
  /** Median milliseconds of a step, over the timed steps. */
  ms: number;
  imagesPerSecond: number;
  batch: number;
}

export async function timeBvlcStep(device: Device, seed: number): Promise<StepTime> {
  const batch = 128;
  const net = new AlexNet({ preset: 'bvlc', classes: 1000, inputSize: 227, device, seed });
  const opt = new SGD(net, { lr: 0.001, momentum: 0.9, weightDecay: 5e-4 });
  try {
    const rng = new Rng(seed);
    const x = rng.normal(batch * 3 * 227 * 227, 1);
    const labels = rng.int(batch, 1000);
    for (let i = 0; i < 2; ++i) await trainStep(net, opt, { x: x, labels: labels, n: batch });
    const times: number[] = [];
    for (let i = 0; i < 3; ++i) {
      const start = performance.now();
      await trainStep(net, opt, { x: x, labels: labels, n: batch });
      times.push(performance.now() - start);
    }
    const ms = times.sort((a, b) => a - b)[1];
    return { ms, imagesPerSecond: (batch * 1000) / ms, batch };
  } finally {
    opt.dispose();
    await net.dispose();
  }
}
