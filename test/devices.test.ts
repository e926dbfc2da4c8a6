import * as os from 'node:os';
import { devices, resolveDevice, Tensor } from '../lib';
import { cudaUnavailable } from '../lib/device';
import { native } from '../lib/native';

describe('devices', () => {
  test('the CPU comes first, with its RAM and the GEMM kernel in use', () => {
    const [cpu] = devices();
    expect(cpu).toMatchObject({ device: 'cpu', memory: os.totalmem(), usable: true });
    expect(cpu.name).toContain(`GEMM ${native.gemmIsa}`);
  });

  const cuda = native.cudaDevices?.();
  const gpus = cuda?.devices ?? [];
  (gpus.length > 0 ? test : test.skip)(
    `lists each CUDA device${gpus.length > 0 ? '' : ' (skipped: no GPU)'}`,
    () => {
      expect(
        devices()
          .slice(1)
          .map((d) => d.device),
      ).toEqual(gpus.map((g) => `cuda:${g.index}`));
    },
  );
  if (gpus.length === 0) {
    test(`no GPU here (${cuda ? cuda.error : 'built without CUDA'}): only the CPU is listed`, () => {
      expect(devices()).toHaveLength(1);
    });
  }

  // One of the next three runs, depending on the build and the machine; the others are skipped
  // with the reason in their titles.
  const cudaBuilt = native.backends.includes('cuda');
  const gpuWhy = cudaUnavailable(0);
  (cudaBuilt ? test.skip : test)(
    `a CPU-only build: 'auto' picks the CPU and says why${cudaBuilt ? ' (skipped: this build has CUDA)' : ''}`,
    () => {
      expect(resolveDevice('auto')).toEqual({
        device: 'cpu',
        reason: 'using the CPU: this build has no CUDA backend',
      });
      expect(() => resolveDevice('cuda:1')).toThrow(
        "Expected an available device for device but received 'cuda:1': this build has no CUDA backend",
      );
    },
  );
  (cudaBuilt && gpus.length === 0 ? test : test.skip)(
    `a CUDA build without a GPU (CI): 'auto' falls back, explicit requests say why${
      cudaBuilt && gpus.length === 0
        ? ''
        : ` (skipped: ${cudaBuilt ? 'a GPU is present' : 'no CUDA build'})`
    }`,
    () => {
      const { device, reason } = resolveDevice('auto');
      expect(device).toBe('cpu');
      expect(reason).toMatch(/^using the CPU: no CUDA device \(.+\)$/);
      expect(() => resolveDevice('cuda')).toThrow(
        /^Expected an available device for device but received 'cuda': no CUDA device \(.+\) \(use device: "cpu" or "auto"\)$/,
      );
      expect(() => Tensor.zeros([2], 'cuda:0')).toThrow(
        /^Tensor: device 'cuda:0' is not available: /,
      );
    },
  );
  (gpuWhy === '' ? test : test.skip)(
    `a usable GPU: 'auto' and 'cuda' pick cuda:0${gpuWhy && ` (skipped: ${gpuWhy})`}`,
    () => {
      expect(resolveDevice('auto').device).toBe('cuda:0');
      expect(resolveDevice('cuda').device).toBe('cuda:0');
    },
  );

  test('a device that is not one is refused, naming the argument', () => {
    expect(() => resolveDevice('gpu')).toThrow(
      "Expected 'auto', 'cpu', 'cuda' or 'cuda:N' for device but received 'gpu' of type string",
    );
  });
});
