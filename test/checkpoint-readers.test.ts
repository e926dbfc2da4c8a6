/**
 * Our checkpoints read by readers we did not write: scripts/read_checkpoint.py parses the file
 * with numpy from the safetensors spec, then builds AlexNet in PyTorch from the metadata alone,
 * loads the weights with load_state_dict(strict=True) and runs it. Every tensor must come back
 * bit for bit, and PyTorch's logits must match ours. Needs /usr/bin/python3 with numpy and torch
 * (Debian: apt-get install python3-torch); without them the suite is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, SGD } from '../lib';
import { modelConfig, saveCheckpoint, type TrainingState } from '../lib/io/checkpoint';
import type { Preset } from '../lib/nn/architecture';
import { trainStepSync } from '../lib/train/training-step';
import { expectClose, maxAbs } from './util/compare';
import { readNpy } from './util/npy';
import { Rng, testSeed } from './util/random';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, '..', 'scripts', 'read_checkpoint.py');

/** '' when PYTHON can import numpy and torch, else why not. */
function pythonMissing(): string {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy, torch'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not found`;
  if (probe.status !== 0) return `${PYTHON} cannot import numpy and torch`;
  return '';
}

/**
 * Two float32 forwards that sum in different orders: alexnet.test.ts measured our ops within
 * about 6e-7 of PyTorch relative to a tensor's largest |value| through the whole small net; 1e-5
 * of the largest logit leaves room, and a wrong layout (a transposed fc6, swapped groups) moves
 * logits by their own size.
 */
const LOGIT_TOLERANCE = 1e-5;

const why = pythonMissing();
const seed = testSeed();

(why === '' ? describe : describe.skip)(
  `checkpoints read by numpy and PyTorch (seed ${seed})${why && ` (skipped: ${why})`}`,
  () => {
    let folder: string;
    beforeAll(() => {
      folder = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-readers-'));
    });
    afterAll(() => fs.rmSync(folder, { recursive: true, force: true }));

    const cases: [Preset, number, number][] = [
      ['bvlc', 99, 1 / 16],
      ['paper', 67, 1 / 8],
    ];
    for (const [preset, inputSize, widthScale] of cases) {
      test(`${preset} at ${inputSize}, width ${widthScale}, after two SGD steps`, async () => {
        const rng = new Rng(seed);
        const classes = 3;
        const net = new AlexNet({ device: 'cpu', preset, classes, inputSize, widthScale, seed });
        const opt = new SGD(net, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
        const batch = 2;
        const labels = rng.int(batch, classes);
        for (let step = 0; step < 2; ++step) {
          trainStepSync(net, opt, {
            x: rng.uniform(batch * 3 * inputSize * inputSize),
            labels: labels,
            n: batch,
          }).loss;
        }
        const state: TrainingState = {
          ...{ epoch: 1, batchInEpoch: 0, step: 2, lr: 0.01, scheduler: null },
          ...{ history: [], config: {} },
        };
        const file = path.join(folder, `${preset}.safetensors`);
        await saveCheckpoint(file, net, modelConfig(net), { optimizer: opt, state });

        const out = path.join(folder, preset);
        const run = spawnSync(PYTHON, [SCRIPT, file, out, '--seed', String(seed)], {
          encoding: 'utf8',
        });
        if (run.status !== 0) throw new Error(`read_checkpoint.py failed:\n${run.stderr}`);

        // Every tensor, as numpy read it from the spec, is ours bit for bit.
        const ours = new Map(net.parameters().map((p) => [p.name, p.value]));
        for (const [name, t] of opt.buffers()) ours.set(`optimizer.momentum.${name}`, t);
        const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
        expect(Object.keys(report.tensors).sort()).toEqual([...ours.keys()].sort());
        for (const [name, t] of ours) {
          const read = readNpy(path.join(out, 'tensors', `${name}.npy`));
          expect([name, read.dtype, read.shape]).toEqual([name, '<f4', t.shape]);
          expect([
            name,
            Buffer.from(read.data.buffer).equals(Buffer.from(t.toArray().buffer)),
          ]).toEqual([name, true]);
        }
        expect(JSON.parse(report.metadata.model)).toEqual(modelConfig(net));
        expect(JSON.parse(report.metadata.training)).toEqual({ ...state, optimizer: 'sgd' });

        // PyTorch's network, built from the metadata and loaded strictly, computes our logits.
        const x = readNpy(path.join(out, 'x.npy'));
        const logits = readNpy(path.join(out, 'logits.npy')).data;
        const mine = net.forwardSync(x.data as Float32Array, x.shape[0]);
        expectClose(mine, logits, { rtol: 0, atol: LOGIT_TOLERANCE * maxAbs(logits) }, 'logits');
        net.dispose();
      }, 60_000);
    }
  },
);
