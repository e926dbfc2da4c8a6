/**
 * No leak in the loops where users of other native ML packages (onnxruntime-node, tfjs-node)
 * report them: models created, run and disposed; worker threads that load the package; and
 * requests to the server. Each loop runs long enough for the process to reach its working size
 * (allocator pools, V8's heap, JIT code, glibc's arenas grow for a while, then stop), and the
 * test asserts a plateau over the second half of the loop, after a full garbage collection at
 * both ends: the addon's tensors, the JavaScript heap and buffers, and the resident memory each
 * grow by at most a stated bound (expectPlateau).
 *
 * Resident memory is process-wide, so, as memory.test.ts, this file's loops run in a jest
 * process of their own (the one test the suite sees starts jest on this file alone, with
 * --expose-gc and ALEXNET_LEAKS_ALONE=1).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { native } from '../lib/native';
import { AlexNet } from '../lib/nn/alexnet';
import { flush } from '../lib/queue';
import { Rng } from '../lib/random';
import { ClassifierServer } from '../lib/serve/server';
import { expectFreshBuild } from './util/built-cli';
import { pngBytes } from './util/images';

const alone = process.env.ALEXNET_LEAKS_ALONE === '1';
const MIB = 2 ** 20;

interface Usage {
  /** Resident memory. */
  rss: number;
  /** V8's heap in use plus the memory of Buffers and ArrayBuffers (`external`). */
  js: number;
  /** Bytes the addon's tensors hold (its exact count). */
  host: number;
}

/** Memory after a full collection (twice: finalizers free native memory on the first). */
async function usage(): Promise<Usage> {
  const { gc } = global as { gc?: () => void };
  if (!gc) throw new Error('run with node --expose-gc (the suite-level test does)');
  for (let i = 0; i < 2; ++i) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await flush();
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, js: heapUsed + external, host: native.hostMemory() };
}

/** Runs `step` `count` times; the growth over the second half, in MiB (host in bytes). */
async function secondHalfGrowth(count: number, step: (i: number) => Promise<void>) {
  let middle: Usage | undefined;
  for (let i = 0; i < count; ++i) {
    if (i === count / 2) middle = await usage();
    await step(i);
  }
  const end = await usage();
  return {
    rss: (end.rss - middle!.rss) / MIB,
    js: (end.js - middle!.js) / MIB,
    host: end.host - middle!.host,
  };
}

/**
 * The bounds, for every loop. The addon's tensors: not one byte more (its count is exact). The
 * JavaScript heap and buffers: 4 MiB, a few KB per iteration. Resident memory: 32 MiB, a coarse
 * guard for native memory outside tensors: glibc's arenas grow and are trimmed on their own
 * schedule, and between the halves of the server loop resident memory moved by -28 to +7 MiB
 * here with no leak in the two counts above.
 */
function expectPlateau(what: string, growth: { rss: number; js: number; host: number }): void {
  console.log(
    `${what}: over the second half, resident ${growth.rss.toFixed(1)} MiB, ` +
      `JS heap + buffers ${growth.js.toFixed(1)} MiB, tensors ${growth.host} bytes`,
  );
  expect(growth.host).toBe(0);
  expect(growth.js).toBeLessThan(4);
  expect(growth.rss).toBeLessThan(32);
}

if (!alone) {
  test('the loops below reach a plateau, in a jest process of their own', () => {
    const root = path.join(__dirname, '..');
    const run = spawnSync(
      process.execPath,
      [
        '--expose-gc',
        require.resolve('jest/bin/jest'),
        '--runInBand',
        '--ci',
        path.relative(root, __filename),
      ],
      { cwd: root, env: { ...process.env, ALEXNET_LEAKS_ALONE: '1' }, encoding: 'utf8' },
    );
    if (run.status !== 0) {
      throw new Error(
        `jest ${path.basename(__filename)} alone exited ${run.status}:\n${run.stderr}`,
      );
    }
    expect(run.stderr).toMatch(/Tests: +3 passed, 3 total/);
  }, 900_000);
}

const describeAlone = (name: string, body: () => void) => {
  if (alone) describe(name, body);
};

describeAlone('leaks', () => {
  const x = new Rng(1).normal(2 * 3 * 67 * 67, 1);

  // 600 cycles: measured here, the first 300 add about 16 MB of resident memory and the next 900
  // nothing.
  test('600 models created, run and disposed: a plateau over the last 300', async () => {
    const growth = await secondHalfGrowth(600, async (i) => {
      const net = new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 16, seed: i });
      await net.forward(x, 2);
      await net.dispose();
    });
    expectPlateau('models', growth);
  }, 600_000);

  // Each worker loads the package (the addon's per-environment data, the modules of dist/) and
  // runs a forward pass; a leaked environment would keep its whole heap, megabytes.
  test('40 worker threads that load the package in turn: a plateau over the last 20', async () => {
    expectFreshBuild();
    const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { AlexNet } = require(workerData.entry);
      (async () => {
        const net = new AlexNet({ classes: 10, inputSize: 67, widthScale: 1 / 16, device: 'cpu' });
        await net.forward(workerData.x, 2);
        await net.dispose();
        parentPort.postMessage('done');
      })();
    `;
    const growth = await secondHalfGrowth(40, async () => {
      const worker = new Worker(source, { eval: true, workerData: { entry, x } });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await worker.terminate();
    });
    expectPlateau('workers', growth);
  }, 600_000);

  // Issue 25 measured 3,000 requests adding about 24 MB of resident memory after the first 512.
  test('2,000 requests to the server: a plateau over the last 1,000', async () => {
    const model = new AlexNet({ classes: 4, inputSize: 67, widthScale: 1 / 16, seed: 5 });
    const server = await ClassifierServer.start(model, { port: 0, workers: 0, maxDelayMs: 0 });
    const image = pngBytes(80, 80, 1);
    try {
      const growth = await secondHalfGrowth(2000, async () => {
        const res = await fetch(`${server.url}/classify`, { method: 'POST', body: image });
        expect(res.status).toBe(200);
        await res.json();
      });
      expectPlateau('serve', growth);
    } finally {
      await server.close();
      await model.dispose();
    }
  }, 600_000);
});
