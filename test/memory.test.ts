/**
 * A model's memory stays bounded whatever batch sizes come, and a model that only infers holds
 * no gradients. The addon's host-memory counter is process-wide, and tensors of other test files,
 * freed by the garbage collector or by a worker thread's exit at any moment, would move it; jest
 * runs every file in one process on a machine of 2 cores (one worker). So this file's tests run
 * in a jest process of their own: the one test the suite sees starts `jest` on this file alone
 * with ALEXNET_MEMORY_ALONE=1, and passes when every test passed there.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { native } from '../lib/native';
import { AlexNet } from '../lib/nn/alexnet';
import { ConvPlan } from '../lib/ops/conv';
import { flush } from '../lib/queue';
import { Rng } from '../lib/random';
import { Tensor } from '../lib/tensor';
import { SGD } from '../lib/train/sgd';
import { trainStep } from '../lib/train/training-step';

function images(n: number, seed: number): Float32Array {
  return new Rng(seed).normal(n * 3 * 67 * 67, 1);
}

const alone = process.env.ALEXNET_MEMORY_ALONE === '1';
/** describe in the process of this file alone; nothing in the suite's (they run in the child). */
const describeAlone = (name: string, body: () => void) => {
  if (alone) describe(name, body);
};

if (!alone) {
  test('the memory counts below pass in a jest process of their own', () => {
    const root = path.join(__dirname, '..');
    const run = spawnSync(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--runInBand', '--ci', path.relative(root, __filename)],
      { cwd: root, env: { ...process.env, ALEXNET_MEMORY_ALONE: '1' }, encoding: 'utf8' },
    );
    if (run.status !== 0) {
      throw new Error(
        `jest ${path.basename(__filename)} alone exited ${run.status}:\n${run.stderr}`,
      );
    }
    // Counted, so that a file whose tests were all filtered out or skipped does not pass.
    expect(run.stderr).toMatch(/Tests: +2 passed, 2 total/);
  });
}

describeAlone('bounded memory', () => {
  /** Bytes of host memory the addon's tensors hold, once the queued frees have run. */
  const held = async () => {
    await flush();
    return native.hostMemory();
  };

  test('varying batch sizes reuse the buffers of the largest; inference holds no gradients', async () => {
    const net = new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 8, device: 'cpu' });
    await net.forward(images(8, 8), 8);
    const afterLargest = await held();
    const rng = new Rng(9);
    for (let i = 0; i < 20; ++i) {
      const n = 1 + rng.int(1, 8)[0];
      await net.forward(images(n, i), n);
    }
    // Smaller batches are views of the largest's buffers: not one more byte of tensors. (Plans
    // are kept for the 4 most recent batch sizes, lib/nn/layer.ts; the CPU's im2col scratch is
    // one per executor thread, cpu::ThreadScratch.)
    expect(await held()).toBe(afterLargest);

    const opt = new SGD(net, { lr: 0.01 });
    const beforeTraining = await held();
    await trainStep(net, opt, { x: images(8, 10), labels: new Int32Array(8), n: 8 });
    // The first training step allocates the gradients (as large as the weights) and the
    // layers' input-gradient buffers.
    const weights = net.parameters().reduce((sum, p) => sum + p.value.size * 4, 0);
    expect((await held()) - beforeTraining).toBeGreaterThan(weights);
    opt.dispose();
    await net.dispose();
  });
});

describeAlone('deferred frees', () => {
  test('tensors disposed while their op is queued are freed only after it ran', async () => {
    // conv3 of the bvlc network at batch 4: tens of milliseconds on 2 cores, so the op is still
    // queued or running when dispose() returns, microseconds after it was submitted.
    const spec = { inChannels: 256, height: 13, width: 13, outChannels: 384, kernel: 3 };
    const plan = new ConvPlan({ batch: 4, ...spec, stride: 1, pad: 1, groups: 1 }, 'cpu');
    const rng = new Rng(12);
    const xData = rng.normal(4 * 256 * 13 * 13, 1);
    const wData = rng.normal(384 * 256 * 9, 0.05);
    const expected = Tensor.zeros(plan.outputShape);
    const run = (into: Tensor) => {
      const x = Tensor.from(xData, plan.inputShape);
      const w = Tensor.from(wData, [384, 256, 3, 3]);
      plan.forward(x, w, into);
      x.dispose();
      w.dispose();
    };
    run(expected);
    await flush();
    const y = Tensor.zeros(plan.outputShape);
    const before = native.hostMemory();
    run(y);
    // Freed at once, the inputs would already be gone from the count (and the op would read
    // freed memory); queued, they stay until the op has run.
    expect(native.hostMemory() - before).toBe((xData.length + wData.length) * 4);
    await flush();
    expect(native.hostMemory()).toBe(before);
    expect(y.toArray()).toEqual(expected.toArray());
    for (const t of [plan, y, expected]) t.dispose();
  });
});
