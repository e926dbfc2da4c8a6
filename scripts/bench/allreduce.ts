#!/usr/bin/env node
import { shareOf } from '../../lib/data/shard';
import { DataParallel } from '../../lib/distributed/data-parallel';
import { MpiCommunicator } from '../../lib/distributed/mpi-communicator';
/**
 * The cost of data parallelism on MPI, run under mpirun (`mpirun -np 2 node
 * dist/scripts/bench/allreduce.js`): the allreduce of a bvlc AlexNet's 61 M gradients (one
 * bucket of 25 MiB after another, as DataParallel sends them), and a whole training step of a
 * shared global batch alone (no communication), with the sums overlapped with the backward, and
 * with them after it. Rank 0 prints the medians of BENCH_REPS (3) runs; BENCH_BATCH (16) is the
 * global batch. Run with ALEXNET_NUM_THREADS=1 when the ranks share the cores.
 */
import { AlexNet } from '../../lib/nn/alexnet';
import { flush } from '../../lib/queue';
import { Rng } from '../../lib/random';
import { Tensor } from '../../lib/tensor';
import { SGD } from '../../lib/train/sgd';
import { trainStep } from '../../lib/train/training-step';
import { median } from './timing';

async function seconds(reps: number, body: () => Promise<void>): Promise<number> {
  await body();
  const times: number[] = [];
  for (let r = 0; r < reps; ++r) {
    const start = performance.now();
    await body();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

async function main(): Promise<void> {
  const comm = MpiCommunicator.init();
  const batch = Number(process.env.BENCH_BATCH ?? 16);
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const net = new AlexNet({ device: 'cpu', classes: 1000, seed: 1 });
  const optimizer = new SGD(net);
  const grads = net.trainableParameters().map((p) => p.grad);
  const count = grads.reduce((n, g) => n + g.size, 0);
  const buckets: (typeof grads)[] = [[]];
  let bytes = 0;
  for (const g of [...grads].reverse()) {
    buckets[buckets.length - 1].push(g);
    bytes += 4 * g.size;
    if (bytes >= 25 * 2 ** 20) {
      buckets.push([]);
      bytes = 0;
    }
  }
  const allreduce = await seconds(reps, async () => {
    for (const b of buckets) if (b.length > 0) comm.allreduce(b, { overlap: false });
    await flush();
  });
  const { count: n, offset } = shareOf(batch, { rank: comm.rank, size: comm.size });
  const size = net.arch.inputSize;
  const x = Tensor.from(new Rng(comm.rank).uniform(n * 3 * size * size), [n, 3, size, size]);
  const shard = { x, labels: new Rng(7).int(n, 1000), n, offset, total: batch };
  const step = (overlap: boolean) => {
    const parallel = new DataParallel(net, { comm, overlap });
    return seconds(reps, async () => {
      await trainStep(net, optimizer, shard, { parallel: parallel });
    });
  };
  // The same share's step with no communication at all: what the sums add to it.
  const alone = await seconds(reps, async () => {
    await trainStep(net, optimizer, { x: x, labels: shard.labels, n: n });
  });
  const withOverlap = await step(true);
  const without = await step(false);
  const share = (step: number) => `${((100 * (step - alone)) / step).toFixed(1)}%`;
  if (comm.rank === 0) {
    const mb = (4 * count) / 2 ** 20;
    console.log(
      `ranks ${comm.size}, ${count} gradients (${mb.toFixed(0)} MiB), global batch ${batch}\n` +
        `allreduce: ${(1000 * allreduce).toFixed(0)} ms (${(mb / allreduce).toFixed(0)} MiB/s algorithm bandwidth)\n` +
        `step of a ${n}-image share: alone ${alone.toFixed(2)} s, with the sums overlapped ` +
        `${withOverlap.toFixed(2)} s, after the backward ${without.toFixed(2)} s\n` +
        `communication's share of the step: ${share(withOverlap)} overlapped, ${share(without)} not`,
    );
  }
  x.dispose();
  await net.dispose();
  comm.dispose();
}

void main();
