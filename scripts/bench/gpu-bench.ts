/**
 * Our side of the GPU benchmark (scripts/bench/gpu_torch.py is PyTorch's, with the same network,
 * batch, data and measurement): the bvlc AlexNet on a CUDA device, float32 (TF32 off: cuDNN FMA
 * math and cuBLAS default math, native/cuda/cudnn_api.h), batch 128.
 *
 * The recipe is the CPU bench's (scripts/bench/train.ts, cases.ts): unit-variance inputs, as
 * training normalises them, and SGD lr 0.001, momentum 0.9, weight decay 5e-4. Inputs of standard
 * deviation 50 at lr 0.01 diverge within a few steps with He initialisation. Every step's loss
 * must be finite; the first and last are printed.
 *
 * Timing, alike on both sides: after the warm-up, N steps run between two synchronisations and
 * the step time is their total / N. Each of our steps reads the loss and the top-1 count back
 * (trainStep), and PyTorch's step does the same (.item() on both), so neither side runs ahead of
 * the host. The cuDNN workspace limit is the same on both (--workspace-mb: ALEXNET_CUDNN_WORKSPACE_MB
 * here, CUDNN_CONV_WSCAP_DBG for PyTorch, aten/src/ATen/native/cudnn/Conv_v7.cpp).
 *
 * Determinism: ours keeps cuDNN to deterministic algorithms unless ALEXNET_CUDNN_DETERMINISTIC=0
 * (native/cuda/determinism.h); PyTorch runs as users run it, torch.backends.cudnn.deterministic
 * off, free to pick the faster non-deterministic algorithms (backward-filter above all): the
 * peer at its best. Both JSON objects record the setting (`cudnn_deterministic`).
 *
 * LRN: cuDNN runs it as one kernel each way, PyTorch's nn.LocalResponseNorm as several (pad,
 * avg_pool3d, pow, mul, div: torch/nn/functional.py local_response_norm), so the two LRN layers
 * are also timed alone on both sides (lrn_ms). A training row without LRN needs the model to
 * leave it out, which AlexNetOptions does not offer yet: PyTorch's no-LRN row is measured and ours
 * is reported as not measured, with the reason.
 *
 * Prints one JSON object on the last line, always: with `error` when something failed, and the
 * figures measured before it. Usage: node dist/scripts/bench/gpu-bench.js [--device cuda:0]
 * [--steps 30] [--warmup 5] [--workspace-mb 512]
 */
import { AlexNet, type Device, LrnPlan, Rng, SGD, Tensor } from '../../lib';
import { cudaLibraries } from '../../lib/device';
import { native } from '../../lib/native';
import { LRN_OPTIONS } from '../../lib/nn/architecture';
import { trainStep } from '../../lib/train/training-step';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Seconds per call of `fn`, over `steps` calls between two synchronisations of `index`. */
async function perStep(fn: () => unknown, steps: number, index: number): Promise<number> {
  native.cudaSynchronize?.(index);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; ++i) await fn();
  native.cudaSynchronize?.(index);
  return Number(process.hrtime.bigint() - t0) / 1e9 / steps;
}

async function main(result: Record<string, unknown>): Promise<void> {
  const device = option('--device', 'cuda:0') as Device;
  const index = Number(device.slice(5));
  const steps = Number(option('--steps', '30'));
  const warmup = Number(option('--warmup', '5'));
  const workspaceMb = option('--workspace-mb', process.env.ALEXNET_CUDNN_WORKSPACE_MB ?? '512');
  // Read by native/cuda/conv.cc when it chooses algorithms, i.e. after this line.
  process.env.ALEXNET_CUDNN_WORKSPACE_MB = workspaceMb;
  const batch = 128;
  const lr = 0.001;
  Object.assign(result, {
    batch,
    steps,
    warmup,
    lr,
    input_std: 1,
    cudnn_workspace_mb: Number(workspaceMb),
    tf32: false,
    cudnn_deterministic: cudaLibraries()?.deterministic ?? null,
    nvidia_tf32_override: process.env.NVIDIA_TF32_OVERRIDE ?? null,
    timing: 'N steps between two synchronisations; loss and top-1 read back every step',
  });
  const net = new AlexNet({ device, preset: 'bvlc', classes: 1000, inputSize: 227, seed: 0 });
  const opt = new SGD(net, { lr, momentum: 0.9, weightDecay: 5e-4 });
  const rng = new Rng(1);
  const x = Tensor.from(rng.normal(batch * 3 * 227 * 227, 1), [batch, 3, 227, 227], device);
  const labels = rng.int(batch, 1000);
  result.device = native.cudaDevices?.().devices[index]?.name ?? device;
  try {
    const losses: number[] = [];
    const step = async () => {
      const { loss } = await trainStep(net, opt, { x, labels, n: batch });
      if (!Number.isFinite(loss)) throw new Error(`loss ${loss} at step ${losses.length + 1}`);
      losses.push(loss);
    };
    for (let i = 0; i < warmup; ++i) await step();
    native.cudaResetPeak?.(index);
    const trainS = await perStep(step, steps, index);
    Object.assign(result, {
      first_loss: losses[0],
      last_loss: losses[losses.length - 1],
      train_step_s: trainS,
      train_images_per_s: batch / trainS,
      peak_bytes: native.cudaMemory?.(index).peak ?? null,
      train_no_lrn_images_per_s: null,
      train_no_lrn_note: 'not measured: AlexNetOptions has no way to leave LRN out (lib/nn)',
    });
    console.error(`loss: first ${losses[0]}, last ${losses[losses.length - 1]}`);

    for (const n of [1, 128]) {
      const xi = Tensor.from(rng.normal(n * 3 * 227 * 227, 1), [n, 3, 227, 227], device);
      try {
        for (let i = 0; i < warmup; ++i) await net.forward(xi, n);
        const s = await perStep(() => net.forward(xi, n), steps, index);
        result[`infer_b${n}_s`] = s;
        result[`infer_images_per_s_b${n}`] = n / s;
      } finally {
        xi.dispose();
      }
    }
    result.lrn_ms = await timeLrn(device, index, batch, steps, warmup, rng);
  } finally {
    x.dispose();
    opt.dispose();
    net.dispose();
  }
}

/** Forward + backward of norm1 and norm2 (bvlc shapes at `batch`), in ms per step. */
async function timeLrn(
  device: Device,
  index: number,
  batch: number,
  steps: number,
  warmup: number,
  rng: Rng,
): Promise<number> {
  const shapes = [
    [batch, 96, 55, 55],
    [batch, 256, 27, 27],
  ];
  const held: { dispose(): void }[] = [];
  try {
    const layers = shapes.map((shape) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const plan = new LrnPlan(shape, LRN_OPTIONS.bvlc, device);
      const t = (data: Float32Array) => Tensor.from(data, shape, device);
      // Inputs of the magnitude LRN sees after ReLU, so that the normalisation term matters.
      const x = t(rng.uniform(size, 0, 10));
      const y = t(new Float32Array(size));
      const dy = t(rng.uniform(size));
      const dx = t(new Float32Array(size));
      held.push(plan, x, y, dy, dx);
      return { plan, x, y, dy, dx };
    });
    const run = () => {
      for (const l of layers) {
        l.plan.forward(l.x, l.y);
        l.plan.backward(l.x, l.y, l.dy, l.dx);
      }
    };
    for (let i = 0; i < warmup; ++i) run();
    return 1000 * (await perStep(run, steps, index));
  } finally {
    for (const h of held) h.dispose();
  }
}

const result: Record<string, unknown> = {};
main(result)
  .catch((error: Error) => {
    result.error = `${error.name}: ${error.message}`;
    process.exitCode = 1;
  })
  .finally(() => console.log(JSON.stringify(result)));
