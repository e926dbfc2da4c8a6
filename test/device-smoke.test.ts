/**
 * A GPU is trusted only after its smoke check (lib/smoke-check.ts): the decision of
 * lib/device.ts's chooseDevice, tested on the CPU with an injected probe that says a GPU is
 * there and that its check failed or passed (no GPU runs here; test/cuda.test.ts covers the
 * real device), and the smoke check's own failure path on a device that cannot run the ops.
 */
import { chooseDevice, type DeviceProbe } from '../lib/device';
import { DeviceError } from '../lib/errors';
import { native } from '../lib/native';
import { gpuSmokeCheck } from '../lib/smoke-check';

/** A machine with one usable-looking GPU whose smoke check gives `failure`, counting calls. */
function probe(failure: string): DeviceProbe & { checked: string[] } {
  const checked: string[] = [];
  return {
    checked,
    unavailable: (index) => (index === 0 ? '' : `no device cuda:${index}`),
    smokeCheck: (device) => {
      checked.push(device);
      return failure;
    },
    name: () => 'Test GPU',
  };
}

const FAILURE = 'conv forward disagrees with the CPU: element 3 is 7 where the CPU gives 0.25';

test("injected failing smoke check: 'auto' falls back to the CPU with one line naming the failure and alexnet doctor", () => {
  const machine = probe(FAILURE);
  const { device, reason } = chooseDevice('auto', machine);
  expect(device).toBe('cpu');
  expect(reason).toBe(
    `using the CPU: cuda:0 (Test GPU) failed its smoke check: ${FAILURE}; \`alexnet doctor\` checks every op and says more`,
  );
  expect(reason).not.toContain('\n');
  expect(machine.checked).toEqual(['cuda:0']);
});

test("injected failing smoke check: 'cuda' and 'cuda:0' throw that message instead of computing", () => {
  for (const request of ['cuda', 'cuda:0']) {
    const call = () => chooseDevice(request, probe(FAILURE));
    expect(call).toThrow(DeviceError);
    expect(call).toThrow(
      `Expected an available device for device but received '${request}': cuda:0 (Test GPU) failed its smoke check: ${FAILURE}; \`alexnet doctor\` checks every op and says more`,
    );
  }
});

test("injected passing smoke check: 'auto' and 'cuda' take the GPU; 'cpu' never runs the check", () => {
  const machine = probe('');
  expect(chooseDevice('auto', machine)).toEqual({
    device: 'cuda:0',
    reason: 'using cuda:0 (Test GPU)',
  });
  expect(chooseDevice('cuda', machine)).toEqual({ device: 'cuda:0', reason: '' });
  expect(machine.checked).toEqual(['cuda:0', 'cuda:0']);
  const cpuOnly = probe(FAILURE);
  expect(chooseDevice('cpu', cpuOnly)).toEqual({ device: 'cpu', reason: '' });
  expect(cpuOnly.checked).toEqual([]);
});

test('a GPU the backend cannot run on is not smoke-checked: its reason comes first', () => {
  const machine = probe(FAILURE);
  expect(() => chooseDevice('cuda:1', machine)).toThrow(
    'Expected an available device for device but received \'cuda:1\': no device cuda:1 (use device: "cpu" or "auto")',
  );
  expect(machine.checked).toEqual([]);
});

const gpus = native.cudaDevices?.().devices.length ?? 0;
(gpus === 0 ? test : test.skip)(
  `the smoke check on a device that cannot run the ops fails, naming the op${gpus ? ' (skipped: a GPU is present)' : ''}`,
  () => {
    expect(gpuSmokeCheck('cuda:0')).toMatch(/^conv forward threw \S/);
  },
);
