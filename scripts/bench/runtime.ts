/**
 * `npm run bench -- runtime`: what the asynchronous runtime costs and gives (lib/queue.ts).
 *
 * - stall: the longest the event loop is held during a bvlc forward pass, through `forward`
 *   (compute off the thread) and `forwardSync` (the blocking peer), measured as the longest gap
 *   between ticks of a 1 ms interval.
 * - memory: forward passes at random batch sizes from 1 to --batch, repeatedly, reporting the
 *   process's resident memory and the addon's tensor memory after each round: both should stay
 *   flat once the largest batch has been seen (buffers are reused as views).
 */
import * as os from 'node:os';
import { native } from '../../lib/native';
import { AlexNet } from '../../lib/nn/alexnet';
import { flush } from '../../lib/queue';
import { Rng } from '../../lib/random';
import { type Flags, parseFlags } from '../cli';
import { describeMachine } from './machine';

const USAGE = `Usage: npm run bench -- runtime [options]

Event-loop stall of a bvlc forward pass, async against blocking, and memory over forward passes of
varying batch sizes.`;

const FLAGS: Flags = {
  batch: {
    type: 'string',
    description: 'batch of the stall measurement, and largest batch of the memory rounds',
    default: '64',
    placeholder: 'n',
  },
  reps: { type: 'string', description: 'stall measurements per call', default: '3' },
  rounds: { type: 'string', description: 'memory rounds of 8 passes', default: '5' },
  help: { type: 'boolean', description: 'show this help' },
};

/**
 * The longest gap between ticks of a 1 ms interval while `work` runs (how long the event loop was
 * held), and how long it ran. test/runtime.test.ts measures with it too.
 */
export async function stall(work: () => unknown): Promise<{ stallMs: number; passMs: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const started = performance.now();
  last = started;
  await work();
  const ended = performance.now();
  clearInterval(timer);
  return { stallMs: Math.max(longest, ended - last), passMs: ended - started };
}

const MIB = 2 ** 20;

export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  const batch = args.number('batch', positive, 'positive integer')!;
  const reps = args.number('reps', positive, 'positive integer')!;
  const rounds = args.number('rounds', positive, 'positive integer')!;
  const machine = describeMachine();
  console.log(`runtime bench, ${machine.date}`);
  console.log(
    `machine: ${machine.cpu}, ${os.cpus().length} logical CPUs, GEMM ${machine.gemmIsa}; ` +
      `load average ${machine.loadAverage.join(' ')}\n`,
  );
  const rng = new Rng(1);
  const net = new AlexNet({ preset: 'bvlc', classes: 1000, device: 'cpu', seed: 1 });
  try {
    const x = rng.normal(batch * 3 * 227 * 227, 1);
    await net.forward(x, batch);
    console.log(`stall during a batch-${batch} forward pass (ms):`);
    for (let i = 0; i < reps; ++i) {
      const free = await stall(() => net.forward(x, batch));
      const held = await stall(() => net.forwardSync(x, batch));
      console.log(
        `  forward ${free.stallMs.toFixed(1)} of ${free.passMs.toFixed(0)} | ` +
          `forwardSync ${held.stallMs.toFixed(1)} of ${held.passMs.toFixed(0)}`,
      );
    }
    console.log(`\nmemory over forward passes of 1 to ${batch} images (MiB):`);
    for (let round = 1; round <= rounds; ++round) {
      for (let i = 0; i < 8; ++i) {
        const n = 1 + rng.int(1, batch)[0];
        await net.forward(x.subarray(0, n * 3 * 227 * 227), n);
      }
      await flush();
      const rss = process.memoryUsage().rss / MIB;
      const tensors = native.hostMemory() / MIB;
      console.log(`  round ${round}: rss ${rss.toFixed(0)}, tensors ${tensors.toFixed(1)}`);
    }
  } finally {
    await net.dispose();
  }
}
