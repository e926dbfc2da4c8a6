/**
 * The CUDA backend against the CPU backend, op by op, and the small AlexNet on the GPU against
 * PyTorch: the checks of scripts/device/gpu-check.ts (tolerances explained there), under jest.
 * Without a GPU (CI, the development machines) one test says why and the rest are skipped; the
 * GPU machine runs the same checks with plain node (scripts/device/check.sh).
 */
import { gpuUnavailable, runNetCheck, runOpChecks } from '../scripts/device/gpu-check';
import { testSeed } from './util/random';

const why = gpuUnavailable();

if (why !== '') {
  describe('CUDA backend', () => {
    test(`skipped: ${why}`, () => {
      expect(why).not.toBe('');
    });
  });
} else {
  const seed = testSeed();
  describe(`CUDA backend against the CPU (seed ${seed})`, () => {
    for (const r of runOpChecks('cuda:0', seed)) {
      test(`${r.name}: max error ${r.maxError.toExponential(2)} (${r.tolerance})`, () => {
        expect(r.ok).toBe(true);
      });
    }
  });
  describe('small AlexNet on CUDA against PyTorch', () => {
    for (const r of runNetCheck('cuda:0')) {
      test(r.name, () => expect(r.ok).toBe(true));
    }
  });
}
