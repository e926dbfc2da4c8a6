/**
 * The NCCL check on the GPU machine (one GPU, so one rank): NCCL opens (libnccl.so.2 from
 * ALEXNET_CUDA_LIBS, the loader path or the nvidia-nccl wheels), an allreduce of known tensors
 * over one rank returns them unchanged and in queue order (a fill queued before it is what it
 * sums; a tensor above 2^20 elements included), and one DataParallel step of a small AlexNet on
 * the GPU leaves the weights bitwise equal to `trainStep` on a twin with the same seed and
 * batch (over one rank the loss divisor is the batch, the dropout offset 0 and the sum the
 * identity, and cuDNN keeps to deterministic algorithms by default, so any difference is a bug,
 * not rounding; with ALEXNET_CUDNN_DETERMINISTIC=0 the two runs may round differently, and the
 * weights need only agree to 1e-5 relative). Without MPI on that machine the host side is this
 * process alone. `node dist/scripts/device/nccl-check.js`: prints one line per check;
 * exits 0 when all passed, 1 when one failed, 2 when there is no GPU or no NCCL to check.
 */
import {
  AlexNet,
  DataParallel,
  type HostCollectives,
  NcclCommunicator,
  Rng,
  SGD,
  Tensor,
} from '../../lib';
import { native } from '../../lib/native';
import { trainStep } from '../../lib/train/training-step';

const ALONE: HostCollectives = {
  rank: 0,
  size: 1,
  localRank: 0,
  allreduceValuesSync: (values) => [...values],
  broadcastSync: (bytes) => bytes,
  abort: (code) => process.exit(code),
  dispose: () => undefined,
};

function knownTensors(comm: NcclCommunicator): string {
  const sizes = [1, 1000, 3 * 2 ** 20 + 5];
  const tensors = sizes.map((n) => Tensor.zeros([n], 'cuda:0'));
  tensors[0].fill(7);
  const expected = sizes.map((n, i) => (i === 0 ? new Float32Array([7]) : new Rng(i).uniform(n)));
  for (let i = 1; i < sizes.length; ++i) tensors[i].write(expected[i]);
  comm.allreduce(tensors);
  comm.wait();
  for (const [i, t] of tensors.entries()) {
    const got = t.toArray();
    const bad = got.findIndex((v, j) => v !== expected[i][j]);
    if (bad >= 0)
      return `tensor ${i} (${sizes[i]}) element ${bad}: ${got[bad]} != ${expected[i][bad]}`;
    t.dispose();
  }
  return '';
}

async function trainingStep(comm: NcclCommunicator): Promise<string> {
  const options = {
    preset: 'paper' as const,
    classes: 10,
    inputSize: 67,
    widthScale: 0.0625,
    seed: 3,
  };
  const [a, b] = [
    new AlexNet({ ...options, device: 'cuda:0' }),
    new AlexNet({ ...options, device: 'cuda:0' }),
  ];
  const n = 8;
  const data = new Rng(5).uniform(n * 3 * 67 * 67);
  const labels = new Rng(6).int(n, 10);
  const [optA, optB] = [new SGD(a, { lr: 0.01 }), new SGD(b, { lr: 0.01 })];
  const x = Tensor.from(data, [n, 3, 67, 67], 'cuda:0');
  const local = await trainStep(a, optA, { x, labels, n });
  const shared = await trainStep(
    b,
    optB,
    { x, labels, n },
    { parallel: new DataParallel(b, { comm }) },
  );
  const errors: string[] = [];
  // Relative 1e-5: a few float32 roundings of one step's sums, against O(1) for a wrong sum.
  const tol = (native.cudaLibraries?.().deterministic ?? true) ? 0 : 1e-5;
  const differs = (x: number, y: number) => Math.abs(x - y) > tol * Math.max(Math.abs(y), 1e-3);
  if (differs(shared.loss, local.loss)) errors.push(`loss ${shared.loss} != ${local.loss}`);
  const pb = b.parameters();
  for (const [i, p] of a.parameters().entries()) {
    const [u, v] = [p.value.toArray(), pb[i].value.toArray()];
    if (u.some((value, j) => differs(v[j], value))) errors.push(`${p.name} differs`);
  }
  x.dispose();
  await Promise.all([a.dispose(), b.dispose()]);
  return errors.join('; ');
}

async function main(): Promise<number> {
  const devices = native.cudaDevices?.().devices ?? [];
  if (devices.length === 0 || !native.ncclInit) {
    console.log('nccl check: not run (no CUDA backend or no GPU)');
    return 2;
  }
  let comm: NcclCommunicator;
  try {
    comm = NcclCommunicator.init(ALONE, 'cuda:0');
  } catch (error) {
    console.log(`nccl check: not run (${(error as Error).message})`);
    return 2;
  }
  console.log(`nccl check: ${comm.backend}`);
  let failed = 0;
  for (const [name, check] of [
    ['allreduce of known tensors', async () => knownTensors(comm)],
    ['DataParallel step == trainStep', () => trainingStep(comm)],
  ] as const) {
    let error: string;
    try {
      error = await check();
    } catch (e) {
      error = (e as Error).stack ?? String(e);
    }
    console.log(`${error ? 'FAIL' : 'ok  '} ${name}${error ? `: ${error}` : ''}`);
    if (error) failed++;
  }
  comm.dispose();
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code));
