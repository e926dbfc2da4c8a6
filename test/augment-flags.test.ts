/**
 * The CLI wiring of --no-crop, --no-mirror and --no-pca: `npm run train --data` hands the
 * augmentation op (lib/ops/augment.ts, watched here) centre crops, no mirror and no colour shift
 * when the flags are given, and random ones otherwise. (The validation set, which never has
 * them, calls the op too.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as augmentModule from '../lib/ops/augment';
import { train } from '../scripts/train';

const KAGGLE = path.join(__dirname, 'fixtures', 'images', 'kaggle');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-augment-flags-'));

/** The options of every augment call of a one-epoch run with `flags`. */
async function augmentCalls(flags: string[]) {
  const spy = jest.spyOn(augmentModule, 'augment');
  const log = jest.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await train([
      ...['--data', KAGGLE, '--cache-dir', tmp(), '--workers', '0', '--out', tmp()],
      ...['--epochs', '1', '--input-size', '67', '--width-scale', '0.0625', '--batch-size', '4'],
      ...flags,
    ]);
    return spy.mock.calls.map((call) => call[3]);
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
}

describe('npm run train --data: the augmentation flags reach the op', () => {
  test('--no-crop --no-mirror --no-pca: centre crops, no mirror, no colour shift', async () => {
    const calls = await augmentCalls(['--no-crop', '--no-mirror', '--no-pca']);
    expect(calls.length).toBeGreaterThan(0);
    const crops = new Set(calls.flatMap((o) => Array.from(o.crops ?? [])));
    // One offset, the centre's, for both axes of every image (the validation set's too).
    expect(crops.size).toBe(1);
    expect(calls.every((o) => Array.from(o.mirror ?? []).every((m) => m === 0))).toBe(true);
    expect(calls.every((o) => o.rgbShift === undefined)).toBe(true);
  });

  test('without them: random crops, some mirrored images and a colour shift', async () => {
    const calls = await augmentCalls([]);
    const crops = new Set(calls.flatMap((o) => Array.from(o.crops ?? [])));
    expect(crops.size).toBeGreaterThan(1);
    expect(calls.some((o) => Array.from(o.mirror ?? []).some((m) => m === 1))).toBe(true);
    // The validation set's calls have no shift; the training set's do.
    expect(calls.some((o) => o.rgbShift !== undefined)).toBe(true);
  });
});
