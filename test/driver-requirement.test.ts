/**
 * What the library says when the NVIDIA driver is too old for the binary's CUDA runtime (the
 * prebuilt binary links CUDA 13, which needs R580+; R535-R570 drivers support CUDA 12.x). The
 * runtime's own word is only cudaErrorInsufficientDriver, with no GPU listed. Here the addon's
 * cudaDevices() is replaced by what such a machine returns (driver CUDA 12.2, runtime 13.0), so
 * this tests lib/device.ts's wording and where it appears, not a GPU; the versions come from
 * cudaDriverGetVersion / cudaRuntimeGetVersion (native/cuda/devices.cu) on a real one.
 */

import { devices, driverTooOld, resolveDevice } from '../lib/device';
import { DeviceError } from '../lib/errors';
import { native } from '../lib/native';

const built = native.cudaDevices !== undefined;
const maybe = built ? test : test.skip;

describe(`a driver older than the binary's CUDA${built ? '' : ' (skipped: built without CUDA)'}`, () => {
  const real = native.cudaDevices;
  /** cudaDevices() as a machine with an R535 driver answers a CUDA 13 binary. */
  const oldDriver = () => ({
    devices: [],
    error:
      'cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version',
    driverCuda: 12020,
    runtimeCuda: 13000,
  });
  afterEach(() => {
    native.cudaDevices = real;
  });

  maybe('driverTooOld names both CUDA versions and the fixes', () => {
    native.cudaDevices = oldDriver;
    const message = driverTooOld();
    expect(message).toMatch(/^driver .+ supports CUDA 12\.2; this binary needs 13\.0\. /);
    expect(message).toContain('Update the NVIDIA driver (CUDA 13 needs R580 or newer)');
    expect(message).toContain('build from source with a CUDA 12 toolkit');
    expect(message).toContain('(nvcc 12 on the PATH, then npx alexnet build)');
  });

  maybe('devices() lists an unusable cuda:0 whose problem says it; resolveDevice throws it', () => {
    native.cudaDevices = oldDriver;
    const gpu = devices().find((d) => d.device === 'cuda:0');
    expect(gpu).toMatchObject({ usable: false, problem: driverTooOld() });
    expect(() => resolveDevice('cuda')).toThrow(DeviceError);
    expect(() => resolveDevice('cuda')).toThrow(
      `Expected an available device for device but received 'cuda': no usable CUDA device: ${driverTooOld()}`,
    );
    expect(resolveDevice('auto')).toEqual({
      device: 'cpu',
      reason: `using the CPU: no usable CUDA device: ${driverTooOld()}`,
    });
  });

  maybe('a driver of the same major (CUDA 13.0 under a 13.1 runtime) is not reported', () => {
    native.cudaDevices = () => ({ ...oldDriver(), driverCuda: 13000, runtimeCuda: 13010 });
    expect(driverTooOld()).toBe('');
  });
});
