/**
 * The torchvision preset against torchvision's AlexNet (scripts/make_torchvision_fixtures.py):
 * a state_dict saved by torch.save, in either format, gives PyTorch's logits here; the preset has
 * the real model's names and shapes; checkpoints keep torchvision's names; transfer learning
 * from a .pth loads conv1-conv5 and trains above them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, SGD, trainStep } from '../lib';
import { ShapeError } from '../lib/errors';
import { imagenetClasses } from '../lib/io/imagenet';
import { readPth } from '../lib/io/pth';
import { readSafetensors } from '../lib/io/safetensors';
import { relativeError } from './util/compare';
import { FIXTURES, readNpy } from './util/npy';

const DIR = path.join(FIXTURES, 'torchvision');
const fixture = (name: string) => path.join(DIR, name);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-tv-'));

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/**
 * The fixtures' input, computed as the script computes it: integer pixels from a formula, then
 * torchvision's normalisation in float64, rounded to float32 once (identical in both).
 */
function inputBatch(): Float32Array {
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const plane = 224 * 224;
  const x = new Float32Array(2 * 3 * plane);
  for (let i = 0; i < x.length; ++i) {
    const p = (i * i * 31 + i * 17) % 251;
    const c = Math.floor(i / plane) % 3;
    x[i] = (p / 255 - mean[c]) / std[c];
  }
  return x;
}

/**
 * Both sides run float32 through 8 layers, summing in different orders (reductions of up to
 * 6·3·3 = 54 terms here, 2·11·11·3 = 726 in conv1): a few float32 roundings (6e-8 each) of
 * the largest logit apart. The issue's bar is a relative error of 1e-5 of the largest |logit|;
 * a wrong layer (a missing ReLU, conv1 unpadded, a transposed fc) moves them by far more.
 */
const REL_TOLERANCE = 1e-5;

describe("torchvision's AlexNet from a .pth", () => {
  it.each(['tv_zip.pth', 'tv_legacy.pth'])(
    '%s: fromFile picks the torchvision preset from its shapes and gives its logits (rel err <= 1e-5)',
    async (name) => {
      const net = await AlexNet.fromFile(fixture(name), { device: 'cpu' });
      try {
        expect(net.arch).toMatchObject({
          preset: 'torchvision',
          classes: 10,
          inputSize: 224,
          widthScale: 1 / 32,
          widths: [2, 6, 12, 8, 8, 128, 128],
        });
        const logits = await net.forward(inputBatch(), 2);
        const expected = readNpy(fixture('logits.npy')).data as Float32Array;
        expect(relativeError(logits, expected)).toBeLessThanOrEqual(REL_TOLERANCE);
      } finally {
        await net.dispose();
      }
    },
  );

  it('a float16 state_dict of 1000 classes: ImageNet class names, logits of its widened weights', async () => {
    const net = await AlexNet.fromFile(fixture('tv_half.pth'), { device: 'cpu' });
    try {
      expect(net.arch.classes).toBe(1000);
      expect(net.classNames).toEqual(imagenetClasses());
      // torchvision's preprocessing: shorter side 256, centre 224, RGB 0-1, ImageNet mean/std.
      expect(net.resize).toEqual({ policy: 'shorter', size: 256 });
      expect(net.normalisation.bgr).toBe(false);
      const mean = net.normalisation.mean.map((m) => m / 255);
      const std = net.normalisation.scale.map((s) => 1 / (255 * s));
      for (const [c, m] of [0.485, 0.456, 0.406].entries()) expect(mean[c]).toBeCloseTo(m, 12);
      for (const [c, s] of [0.229, 0.224, 0.225].entries()) expect(std[c]).toBeCloseTo(s, 12);
      const logits = await net.forward(inputBatch(), 2);
      const expected = readNpy(fixture('logits_half.npy')).data as Float32Array;
      expect(relativeError(logits, expected)).toBeLessThanOrEqual(REL_TOLERANCE);
    } finally {
      await net.dispose();
    }
  });

  it("the preset at full size has torchvision's state_dict names and shapes", async () => {
    const shapes: Record<string, number[]> = JSON.parse(
      fs.readFileSync(fixture('shapes.json'), 'utf8'),
    );
    const net = new AlexNet({ preset: 'torchvision', device: 'cpu', init: 'none' });
    try {
      expect(net.arch.inputSize).toBe(224);
      expect(net.parameters().map((p) => [p.name, p.value.shape])).toEqual(Object.entries(shapes));
      expect(net.shapes().find((s) => s.name === 'pool5')!.shape).toEqual([256, 6, 6]);
    } finally {
      await net.dispose();
    }
  });

  it('refuses inputs where the adaptive average pool would not be the identity', () => {
    expect(() => new AlexNet({ preset: 'torchvision', inputSize: 99, widthScale: 0.05 })).toThrow(
      ShapeError,
    );
    expect(() => new AlexNet({ preset: 'torchvision', inputSize: 256, widthScale: 0.05 })).toThrow(
      /pool5 would be 7x7, and torchvision's adaptive average pool to 6x6 is implemented only where it is the identity/,
    );
  });

  it("a torchvision model's checkpoint keeps torchvision's names and loads back", async () => {
    const net = await AlexNet.fromFile(fixture('tv_zip.pth'), { device: 'cpu' });
    const file = path.join(scratch, 'tv.safetensors');
    try {
      await net.save(file);
      const { tensors } = await readSafetensors(file);
      const original = await readPth(fixture('tv_zip.pth'));
      expect(Object.keys(tensors)).toEqual(Object.keys(original));
      for (const [name, t] of Object.entries(original)) expect(tensors[name].data).toEqual(t.data);
      const back = await AlexNet.fromFile(file, { device: 'cpu' });
      expect(back.arch.preset).toBe('torchvision');
      expect(await back.forward(inputBatch(), 2)).toEqual(await net.forward(inputBatch(), 2));
      await back.dispose();
    } finally {
      await net.dispose();
    }
  });

  it('transfer learning: conv1-conv5 from the .pth, fc8 new, only fc6-fc8 change in a step', async () => {
    const net = new AlexNet({
      preset: 'torchvision',
      classes: 2,
      widthScale: 1 / 32,
      device: 'cpu',
      trainLayers: ['fc6', 'fc7', 'fc8'],
    });
    try {
      await net.load(fixture('tv_zip.pth'), { skip: ['fc8'] });
      const file = await readPth(fixture('tv_zip.pth'));
      const before = new Map(net.parameters().map((p) => [p.name, p.value.toArray()]));
      for (const p of net.parameters()) {
        if (p.layer !== 'fc8') expect(before.get(p.name)).toEqual(file[p.name].data);
      }
      const optimizer = new SGD(net, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      (await trainStep(net, optimizer, { x: inputBatch(), labels: Int32Array.of(0, 1), n: 2 }))
        .loss;
      for (const p of net.parameters()) {
        const changed = p.value.toArray().some((v, i) => v !== before.get(p.name)![i]);
        expect([p.name, changed]).toEqual([p.name, ['fc6', 'fc7', 'fc8'].includes(p.layer)]);
      }
    } finally {
      await net.dispose();
    }
  });
});
