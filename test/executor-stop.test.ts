/**
 * An environment that goes away (a worker thread that exits) waits for its executor
 * (native/core/executor.h, Stop): the op in flight finishes and the releases queued behind it run
 * before the environment is gone, so nothing of it runs afterwards. On a GPU that is what keeps
 * CUDA calls of a dead environment from racing the process's exit. Seen here on the CPU through
 * the addon's host-memory counter: the worker queues a long GEMM and frees its tensors behind it,
 * then exits at once; when its 'exit' event arrives, the memory must already be back.
 *
 * The counter is process-wide, and jest runs many files in one process, whose tensors the
 * garbage collector may free at any moment; so the worker runs in a node process of its own.
 */
import { spawnSync } from 'node:child_process';
import { addonFile } from '../lib/native';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.addon);
const n = 1024;
const [a, b, c] = [0, 1, 2].map(() => new addon.Tensor([n, n], 'cpu'));
// Queued: the first runs while the worker exits; the rest are dropped by Stop.
for (let i = 0; i < 8; ++i) addon.gemm(a, b, c, false, false, n, n, n, 1, 0, null, false);
// Releases queued behind the GEMM in flight.
for (const t of [a, b, c]) t.dispose();
parentPort.postMessage(addon.hostMemory());
process.exit(0);
`;

/** In a fresh node process: the counter before, when the worker queued its work, and after its exit. */
const PROCESS = `
const { Worker } = require('node:worker_threads');
const addon = require(process.argv[1]);
const before = addon.hostMemory();
const worker = new Worker(${JSON.stringify(WORKER)}, { eval: true, workerData: { addon: process.argv[1] } });
let held = 0;
worker.on('message', (bytes) => { held = bytes; });
worker.on('exit', () => console.log(JSON.stringify({ before, held, after: addon.hostMemory() })));
`;

describe('executor shutdown', () => {
  test("an exiting worker's op in flight and queued frees finish before its 'exit' event", () => {
    const run = spawnSync(process.execPath, ['-e', PROCESS, addonFile()], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const { before, held, after } = JSON.parse(run.stdout);
    // 3 tensors of 1024 x 1024 float32 were held when the worker queued its work.
    expect(held - before).toBe(3 * 1024 * 1024 * 4);
    expect(after).toBe(before);
  });
});
