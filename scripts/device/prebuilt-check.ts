/**
 * The prebuilt binary of the npm package (scripts/prebuild.js) on the GPU machine, which has the
 * NVIDIA wheels: run with ALEXNET_NATIVE_PATH pointing at it (check.sh does), it must carry the
 * CUDA backend, find cuDNN and cuBLAS itself, and give a small AlexNet's logits
 * on cuda:0 equal to the CPU's within float32 rounding of a different summation order (1e-3 of
 * the largest logit, gpu-check's tolerance for whole networks). `node
 * dist/scripts/device/prebuilt-check.js`: one line per check; exits 0 when all passed, 1 when one
 * failed, 2 when there is no GPU.
 */
import { AlexNet, addonInfo, Rng } from '../../lib';
import { cudaUnavailable } from '../../lib/device';

async function logits(device: 'cpu' | 'cuda:0', x: Float32Array): Promise<Float32Array> {
  const net = new AlexNet({ device, classes: 10, inputSize: 67, widthScale: 1 / 4, seed: 5 });
  try {
    return await net.forward(x, 4);
  } finally {
    await net.dispose();
  }
}

async function main(): Promise<number> {
  const info = addonInfo();
  console.log(`loaded ${info.file} (backends: ${info.backends.join(', ')})`);
  if (!info.backends.includes('cuda')) return 1;
  const why = cudaUnavailable(0);
  if (why !== '') {
    console.log(`prebuilt check: not run: ${why}`);
    return why.startsWith('no CUDA device') ? 2 : 1;
  }
  const x = new Rng(3).normal(4 * 3 * 67 * 67, 1);
  const [cpu, gpu] = [await logits('cpu', x), await logits('cuda:0', x)];
  const scale = Math.max(...cpu.map(Math.abs));
  const worst = Math.max(...cpu.map((v, i) => Math.abs(v - gpu[i])));
  const ok = worst <= 1e-3 * scale;
  console.log(
    `logits on cuda:0 against the CPU: max difference ${worst} (${ok ? 'ok' : 'FAILED'})`,
  );
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code));
