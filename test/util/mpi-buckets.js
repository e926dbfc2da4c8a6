/**
 * One MPI rank of the bucketed-allreduce test (test/distributed.test.ts), run by `mpirun -np N
 * node mpi-buckets.js <out.json> <bucketBytes> <overlap>` or alone (a job of one): three
 * data-parallel SGD steps of a small AlexNet on fixed global batches of 8, each rank on its share.
 * Rank 0 writes the final weights and the first step's event log: in the order they were queued,
 * each layer's backward (the names of its parameters) and each allreduce (the tensors it sums).
 * Plain JavaScript on the built package (dist/), as a user's script under mpirun is.
 */
const fs = require('node:fs');
const path = require('node:path');
const { AlexNet, DataParallel, MpiCommunicator, Rng, SGD, Tensor, shareOf, trainStep } = require(
  path.join(__dirname, '..', '..', 'dist', 'lib', 'index.js'),
);

const [out, bucketText, overlapText] = process.argv.slice(2);
const GLOBAL_BATCH = 8;
const SIZE = 67;
const PER_IMAGE = 3 * SIZE * SIZE;

async function main() {
  const comm = MpiCommunicator.init();
  const net = new AlexNet({
    classes: 10,
    inputSize: SIZE,
    widthScale: 1 / 8,
    seed: 5,
    device: 'cpu',
  });
  const optimizer = new SGD(net, { lr: 0.01 });
  const parallel = new DataParallel(net, {
    comm,
    bucketBytes: Number(bucketText),
    overlap: overlapText === 'true',
  });

  const log = [];
  const names = new Map();
  const allreduce = comm.allreduce.bind(comm);
  comm.allreduce = (tensors, options) => {
    log.push({ event: 'allreduce', tensors: tensors.map((t) => names.get(t) ?? 'results') });
    allreduce(tensors, options);
  };
  const gradientSync = parallel.gradientSync.bind(parallel);
  parallel.gradientSync = (batch) => {
    const sync = gradientSync(batch);
    return {
      ...sync,
      afterBackward: (params) => {
        for (const p of params) names.set(p.grad, p.name);
        log.push({ event: 'backward', params: params.map((p) => p.name) });
        sync.afterBackward(params);
      },
    };
  };

  const rng = new Rng(7);
  let firstStep = [];
  for (let step = 0; step < 3; ++step) {
    const x = rng.normal(GLOBAL_BATCH * PER_IMAGE, 1);
    const labels = Int32Array.from({ length: GLOBAL_BATCH }, () => rng.below(10));
    const { offset, count } = shareOf(GLOBAL_BATCH, parallel.shard);
    const batch = {
      x: Tensor.from(x.subarray(offset * PER_IMAGE, (offset + count) * PER_IMAGE), [
        count,
        3,
        SIZE,
        SIZE,
      ]),
      labels: labels.subarray(offset, offset + count),
      n: count,
      offset,
      total: GLOBAL_BATCH,
    };
    await trainStep(net, optimizer, batch, { parallel });
    batch.x.dispose();
    if (step === 0) firstStep = log.splice(0);
  }
  if (comm.rank === 0) {
    const weights = Object.fromEntries(
      net.parameters().map((p) => [p.name, Array.from(p.value.toArray())]),
    );
    fs.writeFileSync(out, JSON.stringify({ size: comm.size, log: firstStep, weights }));
  }
  optimizer.dispose();
  await net.dispose();
  comm.dispose();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
