/**
 * The CUDA backend against the CPU backend, op by op and through the model, and the small AlexNet
 * on the GPU against PyTorch: the checks of scripts/device/gpu-check.ts and lib/doctor/
 * (tolerances explained there), under jest. Without a GPU (CI, the development machines) the GPU
 * suite is skipped with the reason, and what runs is the check's own machinery: its comparison catches what it must,
 * a throwing check becomes a failed result, and the command line writes its JSON and says why it
 * skipped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compare, guarded } from '../lib/doctor/compare';
import { runBvlcCheck, runModelChecks } from '../lib/doctor/model-checks';
import { runOpChecks } from '../lib/doctor/op-checks';
import { gpuUnavailable, main, runNetCheck } from '../scripts/device/gpu-check';
import { testSeed } from './util/random';

const why = gpuUnavailable();
const seed = testSeed();

(why === '' ? describe : describe.skip)(
  `CUDA backend (seed ${seed})${why && `: skipped, ${why}`}`,
  () => {
    const passed = async (results: Promise<{ name: string; ok: boolean }[]>) =>
      expect((await results).filter((r) => !r.ok)).toEqual([]);
    test('every op against the CPU, twice', () => passed(runOpChecks('cuda:0', seed)), 120_000);
    test(
      'bvlc AlexNet at batch 16 against the CPU',
      () => passed(runBvlcCheck('cuda:0', seed)),
      300_000,
    );
    test('the model calls against the CPU', () => passed(runModelChecks('cuda:0', seed)), 300_000);
    test('small AlexNet against PyTorch', () => passed(runNetCheck('cuda:0')));
  },
);

describe('the GPU check itself', () => {
  test('an element left unwritten (NaN) fails even the loosest comparison', () => {
    const r = compare('x', [1, Number.NaN, 3], [1, 2, 3], { rtol: 1, atol: 1 });
    expect(r).toMatchObject({ ok: false, tolerance: 'NaN at 1' });
    expect(compare('x', [1, 2.5], [1, 2], { rtol: 0, atol: 0.5 }).ok).toBe(true);
    expect(compare('x', [1, 2.5], [1, 2], { rtol: 0, atol: 0.4 }).ok).toBe(false);
  });

  test('a check that throws becomes a failed result with its error', async () => {
    const results = await guarded('conv', () => {
      throw new RangeError('cudnnFind failed');
    });
    expect(results).toEqual([{ name: 'conv', ok: false, error: 'RangeError: cudnnFind failed' }]);
  });

  (why === '' ? test.skip : test)(
    `without a GPU it exits 2, says why and still writes the JSON${why ? '' : ' (skipped: a GPU is present)'}`,
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-gpu-check-'));
      const json = path.join(dir, 'check.json');
      const error = jest.spyOn(console, 'error').mockImplementation(() => {});
      try {
        expect(await main(['--json', json])).toBe(2);
        expect(error).toHaveBeenCalledWith(`gpu-check: SKIPPED, ${why}`);
        const report = JSON.parse(fs.readFileSync(json, 'utf8'));
        expect(report).toMatchObject({ device: 'cuda:0', seed: 1, skipped: why });
      } finally {
        error.mockRestore();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
