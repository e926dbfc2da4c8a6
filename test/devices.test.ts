import * as os from 'node:os';
import { devices, resolveDevice, Tensor } from '../lib';
import { native } from '../lib/native';

describe('devices', () => {
  test('the CPU comes first, with its RAM and the GEMM kernel in use', () => {
    const [cpu] = devices();
    expect(cpu).toMatchObject({ device: 'cpu', memory: os.totalmem(), usable: true });
    expect(cpu.name).toContain(`GEMM ${native.gemmIsa}`);
  });

  const cuda = native.cudaDevices?.();
  const gpus = cuda?.devices ?? [];
  (gpus.length > 0 ? test : test.skip)('lists each CUDA device with its memory', () => {
    expect(
      devices()
        .slice(1)
        .map((d) => d.device),
    ).toEqual(gpus.map((g) => `cuda:${g.index}`));
  });
  if (gpus.length === 0) {
    test(`no GPU here (${cuda ? cuda.error : 'built without CUDA'}): only the CPU is listed`, () => {
      expect(devices()).toHaveLength(1);
    });
  }

  test("'auto' picks the CPU here and says why; bad requests name the argument", () => {
    if (!native.backends.includes('cuda')) {
      expect(resolveDevice('auto')).toEqual({
        device: 'cpu',
        reason: 'using the CPU: this build has no CUDA backend',
      });
      expect(() => resolveDevice('cuda:1')).toThrow(
        "Expected an available device for device but received 'cuda:1': this build has no CUDA backend",
      );
    }
    if (native.backends.includes('cuda') && gpus.length === 0) {
      // Built with nvcc on a machine without a GPU (CI): 'auto' falls back, explicit requests
      // and CUDA tensors say why.
      const { device, reason } = resolveDevice('auto');
      expect(device).toBe('cpu');
      expect(reason).toMatch(/^using the CPU: no CUDA device \(.+\)$/);
      expect(() => resolveDevice('cuda')).toThrow(
        /^Expected an available device for device but received 'cuda': no CUDA device \(.+\) \(use device: "cpu" or "auto"\)$/,
      );
      expect(() => Tensor.zeros([2], 'cuda:0')).toThrow(
        /^Tensor: device 'cuda:0' is not available: /,
      );
    }
    expect(() => resolveDevice('gpu')).toThrow(
      "Expected 'auto', 'cpu', 'cuda' or 'cuda:N' for device but received 'gpu' of type string",
    );
  });
});
