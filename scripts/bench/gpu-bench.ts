/**
 * Our side of the GPU benchmark (scripts/bench/gpu_torch.py is PyTorch's, with the same network,
 * batch and measurement): the bvlc AlexNet on a CUDA device, float32 (TF32 off), batch 128.
 * Prints one JSON object: train_images_per_s (forward + backward + SGD), infer_images_per_s_b1 and
 * _b128, and peak_bytes (device memory held through the addon over the timed steps: tensors,
 * workspace, staging; the libraries' own allocations are not counted, nor are PyTorch's in its
 * max_memory_allocated). Each timed step ends by reading the loss (or logits) back, which waits for
 * the device. Usage: node dist/scripts/bench/gpu-bench.js [--device cuda:0] [--steps 30] [--warmup 5]
 */
import { AlexNet, type Device, Rng, SGD, Tensor } from '../../lib';
import { native } from '../../lib/native';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function medianSeconds(fn: () => void, steps: number, warmup: number): number {
  for (let i = 0; i < warmup; ++i) fn();
  const times: number[] = [];
  for (let i = 0; i < steps; ++i) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function main(): void {
  const device = option('--device', 'cuda:0') as Device;
  const index = Number(device.slice(5));
  const steps = Number(option('--steps', '30'));
  const warmup = Number(option('--warmup', '5'));
  const batch = 128;
  const net = new AlexNet({ device, preset: 'bvlc', classes: 1000, inputSize: 227, seed: 0 });
  const opt = new SGD(net, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const rng = new Rng(1);
  const x = Tensor.from(rng.normal(batch * 3 * 227 * 227, 50), [batch, 3, 227, 227], device);
  const labels = rng.int(batch, 1000);

  for (let i = 0; i < warmup; ++i) net.trainStepSync(x, labels, batch, opt);
  native.cudaSynchronize?.(index);
  native.cudaResetPeak?.(index);
  const trainS = medianSeconds(() => net.trainStepSync(x, labels, batch, opt), steps, 0);
  const peak = native.cudaMemory?.(index).peak ?? 0;

  const result: Record<string, number | string> = {
    device: native.cudaDevices?.().devices[index]?.name ?? device,
    batch,
    train_step_s: trainS,
    train_images_per_s: batch / trainS,
    peak_bytes: peak,
  };
  for (const n of [1, 128]) {
    const xi = Tensor.from(rng.normal(n * 3 * 227 * 227, 50), [n, 3, 227, 227], device);
    const s = medianSeconds(() => net.forwardSync(xi, n), steps, warmup);
    result[`infer_b${n}_s`] = s;
    result[`infer_images_per_s_b${n}`] = n / s;
    xi.dispose();
  }
  console.log(JSON.stringify(result));
  x.dispose();
  opt.dispose();
  net.dispose();
}

main();
