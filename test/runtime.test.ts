/**
 * The runtime contract (lib/queue.ts, native/core/executor.h): the asynchronous API computes off
 * the event loop's thread, calls on one model run in order, native errors reach the caller,
 * dispose() waits for work in flight, and the addon runs in worker threads. (Bounded memory is
 * in memory.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AlexNet } from '../lib/nn/alexnet';
import { Rng } from '../lib/random';
import { SGD } from '../lib/train/sgd';
import { trainStep, trainStepSync } from '../lib/train/training-step';
import { stall } from '../scripts/bench/runtime';

/** A small network (input 67, widths x1/8) with fixed random weights. */
function smallNet(seed = 3): AlexNet {
  return new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 8, seed, device: 'cpu' });
}

function images(n: number, size: number, seed: number): Float32Array {
  return new Rng(seed).normal(n * 3 * size * size, 1);
}

describe('the asynchronous API', () => {
  // The bvlc network at batch 16 takes about a second on 2 cores: long enough that a blocked
  // event loop shows, short enough for CI. Its weights are left at zero (init 'none'): the time
  // does not depend on the values. Both bounds are relative to the same machine's pass, not
  // wall-clock numbers, so a fast or a loaded machine scales both sides alike.
  test('forward keeps the event loop running; forwardSync holds it', async () => {
    const net = new AlexNet({ preset: 'bvlc', classes: 1000, init: 'none', device: 'cpu' });
    const x = images(16, 227, 1);
    const blocked = await stall(() => net.forwardSync(x, 16));
    const free = await stall(() => net.forward(x, 16));
    await net.dispose();
    // The measurement can fail: the blocking call shows as one stall nearly as long as the pass
    // (0.8: the 1 ms timer's own delay and the time before and after the call are not stalled).
    expect(blocked.stallMs).toBeGreaterThan(0.8 * blocked.passMs);
    // Free, the event loop's longest gap is a scheduling delay (a few milliseconds idle, tens on
    // a machine shared by many processes), not a pass: a quarter of the blocked stall leaves
    // room for a loaded machine and still fails if even a quarter of the pass ran on this thread.
    expect(free.stallMs).toBeLessThan(0.25 * blocked.stallMs);
  });

  test('async and sync calls give the same logits, losses and weights', async () => {
    const a = smallNet();
    const b = smallNet();
    const x = images(4, 67, 2);
    const labels = Int32Array.from([0, 3, 9, 3]);
    expect(await a.forward(x, 4)).toEqual(b.forwardSync(x, 4));
    const optA = new SGD(a, { lr: 0.01 });
    const optB = new SGD(b, { lr: 0.01 });
    for (let i = 0; i < 2; ++i) {
      expect(await trainStep(a, optA, { x, labels, n: 4 })).toEqual(
        trainStepSync(b, optB, { x, labels, n: 4 }),
      );
    }
    expect(await a.evaluate(x, labels, 4)).toEqual(await b.evaluate(x, labels, 4));
    for (const [i, p] of a.parameters().entries()) {
      expect(p.value.toArray()).toEqual(b.parameters()[i].value.toArray());
    }
    expect(a.step).toBe(2);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  test('calls on one model run in the order they were made', async () => {
    // Training steps change the weights, so each call's result depends on every call before it:
    // run in another order, the losses and the logits between them differ.
    const net = smallNet();
    const reference = smallNet();
    const opt = new SGD(net, { lr: 0.05 });
    const refOpt = new SGD(reference, { lr: 0.05 });
    const inputs = [1, 2, 3].map((seed) => images(2, 67, seed));
    const labels = Int32Array.from([1, 7]);
    const expected: unknown[] = [];
    for (const x of inputs) {
      expected.push(trainStepSync(reference, refOpt, { x: x, labels: labels, n: 2 }));
      expected.push(reference.forwardSync(inputs[0], 2));
    }
    // All six are queued before any has run.
    const calls: Promise<unknown>[] = [];
    for (const x of inputs) {
      calls.push(trainStep(net, opt, { x: x, labels: labels, n: 2 }));
      calls.push(net.forward(inputs[0], 2));
    }
    const results = await Promise.all(calls);
    expect(results).toEqual(expected);
    // The forwards after each step see different weights, so the check above can tell an order.
    expect(expected[1]).not.toEqual(expected[3]);
    opt.dispose();
    refOpt.dispose();
    await Promise.all([net.dispose(), reference.dispose()]);
  });

  test('a blocking call while asynchronous ones are in flight is refused', async () => {
    const net = smallNet();
    const x = images(1, 67, 4);
    const pending = net.forward(x, 1);
    expect(() => net.forwardSync(x, 1)).toThrow(
      'forwardSync was called while asynchronous calls on this model are in flight; await them first',
    );
    await pending;
    await net.dispose();
  });

  test('a non-finite loss rejects and changes no weight', async () => {
    const net = smallNet();
    const opt = new SGD(net, { lr: 0.01 });
    const before = net.parameters().map((p) => p.value.toArray());
    const x = images(2, 67, 5).map((v) => v * 1e38);
    await expect(
      trainStep(net, opt, { x: x, labels: Int32Array.from([0, 1]), n: 2 }),
    ).rejects.toThrow(/Loss became (NaN|Infinity) at step 0; no weights were updated/);
    expect(net.parameters().map((p) => p.value.toArray())).toEqual(before);
    expect(net.step).toBe(0);
    await net.dispose();
  });

  test('dispose() waits for the calls in flight, then frees', async () => {
    const net = smallNet();
    const x = images(2, 67, 6);
    const expected = net.forwardSync(x, 2);
    const pending = net.forward(x, 2);
    const disposed = net.dispose();
    expect(await pending).toEqual(expected);
    await disposed;
    await expect(net.forward(x, 2)).rejects.toThrow('This AlexNet has been disposed');
  });
});

describe('worker threads', () => {
  const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');

  test('two workers each load the package and compute what the main thread does', async () => {
    if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\``);
    const x = images(2, 67, 7);
    const net = smallNet(11);
    const expected = net.forwardSync(x, 2);
    await net.dispose();
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { AlexNet } = require(workerData.entry);
      (async () => {
        const net = new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 8, seed: 11, device: 'cpu' });
        const logits = await net.forward(workerData.x, 2);
        await net.dispose();
        parentPort.postMessage(logits);
      })();
    `;
    const run = () =>
      new Promise<Float32Array>((resolve, reject) => {
        const worker = new Worker(source, { eval: true, workerData: { entry, x } });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    // Both workers and the main thread compute at once.
    const main = smallNet(11);
    const [first, second, here] = await Promise.all([run(), run(), main.forward(x, 2)]);
    await main.dispose();
    expect(first).toEqual(expected);
    expect(second).toEqual(expected);
    expect(here).toEqual(expected);
  });
});
