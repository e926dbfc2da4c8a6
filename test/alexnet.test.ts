/**
 * The AlexNet model: its built layers, run on an image, against Caffe's bvlc_alexnet deploy.prototxt, training
 * steps against PyTorch (test/fixtures/small_alexnet, written by scripts/make_fixtures.py), saving
 * and loading, and its argument errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, NonFiniteLossError, SGD, Tensor } from '../lib';
import { Conv2d } from '../lib/nn/conv2d';
import { Dropout } from '../lib/nn/dropout';
import type { Layer } from '../lib/nn/layer';
import { Linear } from '../lib/nn/linear';
import { Lrn } from '../lib/nn/lrn';
import { MaxPool } from '../lib/nn/max-pool';
import { trainStep, trainStepSync } from '../lib/train/training-step';
import { expectClose, maxAbs } from './util/compare';
import { loadFixture } from './util/npy';

/** float32 unit roundoff. */
const U = 2 ** -24;

/**
 * The small AlexNet compares two float32 runs that sum in different orders, through up to 8
 * layers (reductions of up to 2·23·23 = 1058 terms, conv1's filter gradient). Measured:
 * PyTorch's float32 run stays within 1.2e-6 of a float64 run of the same net, relative to each
 * saved tensor's (or update's) largest |value|, and our ops stay within about 6e-7 of PyTorch.
 * We allow 1e-5 of the largest |value|. A real mistake shows far above that: weight decay on
 * the biases changes their updates by about 5e-4.
 */
const NET_TOLERANCE = 1e-5;

interface SmallAlexNetMeta {
  sgd: { lr: number; momentum: number; weight_decay: number };
  parameters: string[];
  steps: number;
}

describe('AlexNet shapes', () => {
  /**
   * Caffe's models/bvlc_alexnet/deploy.prototxt (github.com/BVLC/caffe), layer by layer: type,
   * parameters and the top blob's shape for one image (Caffe's net-construction log prints
   * these). Convolutions carry group 2 on conv2, conv4 and conv5 as bvlc_alexnet.caffemodel's
   * weights require (conv2's 48 input channels per filter); LRN's k is Caffe's default, 1.
   */
  const deploy: [string, string, Record<string, number>, number[]][] = [
    [
      'conv1',
      'Conv2d',
      { outChannels: 96, kernel: 11, stride: 4, pad: 0, groups: 1 },
      [96, 55, 55],
    ],
    ['relu1', 'Relu', {}, [96, 55, 55]],
    ['norm1', 'Lrn', { size: 5, alpha: 1e-4, beta: 0.75, k: 1 }, [96, 55, 55]],
    ['pool1', 'MaxPool', { kernel: 3, stride: 2, pad: 0 }, [96, 27, 27]],
    [
      'conv2',
      'Conv2d',
      { outChannels: 256, kernel: 5, stride: 1, pad: 2, groups: 2 },
      [256, 27, 27],
    ],
    ['relu2', 'Relu', {}, [256, 27, 27]],
    ['norm2', 'Lrn', { size: 5, alpha: 1e-4, beta: 0.75, k: 1 }, [256, 27, 27]],
    ['pool2', 'MaxPool', { kernel: 3, stride: 2, pad: 0 }, [256, 13, 13]],
    [
      'conv3',
      'Conv2d',
      { outChannels: 384, kernel: 3, stride: 1, pad: 1, groups: 1 },
      [384, 13, 13],
    ],
    ['relu3', 'Relu', {}, [384, 13, 13]],
    [
      'conv4',
      'Conv2d',
      { outChannels: 384, kernel: 3, stride: 1, pad: 1, groups: 2 },
      [384, 13, 13],
    ],
    ['relu4', 'Relu', {}, [384, 13, 13]],
    [
      'conv5',
      'Conv2d',
      { outChannels: 256, kernel: 3, stride: 1, pad: 1, groups: 2 },
      [256, 13, 13],
    ],
    ['relu5', 'Relu', {}, [256, 13, 13]],
    ['pool5', 'MaxPool', { kernel: 3, stride: 2, pad: 0 }, [256, 6, 6]],
    ['fc6', 'Linear', { outFeatures: 4096 }, [4096]],
    ['relu6', 'Relu', {}, [4096]],
    ['drop6', 'Dropout', { p: 0.5 }, [4096]],
    ['fc7', 'Linear', { outFeatures: 4096 }, [4096]],
    ['relu7', 'Relu', {}, [4096]],
    ['drop7', 'Dropout', { p: 0.5 }, [4096]],
    ['fc8', 'Linear', { outFeatures: 1000 }, [1000]],
  ];

  /** A built layer's settings, read from the fields its constructor stored. */
  function settingsOf(layer: Layer): Record<string, number> {
    const fields = layer as unknown as Record<string, Record<string, number> | number>;
    if (layer instanceof Conv2d) {
      const { outChannels, kernel, stride, pad, groups } = layer.spec;
      return { outChannels, kernel, stride, pad, groups };
    }
    if (layer instanceof Lrn || layer instanceof MaxPool) return { ...(fields.options as object) };
    if (layer instanceof Linear) return { outFeatures: layer.outFeatures };
    if (layer instanceof Dropout) return { p: fields.p as number };
    return {};
  }

  test('bvlc at 227: the built layers match deploy.prototxt, run on an image', () => {
    const net = new AlexNet({ device: 'cpu', classes: 1000 });
    // The layers AlexNet built and runs (private: no public API exposes them).
    const layers = net['layers'];
    // A training forward, where each layer writes its own output: an inference forward on the CPU
    // runs pool1 and pool2 inside norm1 and norm2 (Lrn.fusePool), and the pool layers pass through.
    const context = { training: true, seed: 1, step: 0 };
    let a = Tensor.from(new Float32Array(3 * 227 * 227).fill(1), [1, 3, 227, 227]);
    const input = a;
    const built = layers.map((layer) => {
      a = layer.forward(a, context);
      return [layer.name, layer.constructor.name, settingsOf(layer), a.shape.slice(1)];
    });
    expect(built).toEqual(deploy);
    const sizes = Object.fromEntries(net.parameters().map((p) => [p.name, p.value.shape]));
    expect(sizes['conv2.weight']).toEqual([256, 48, 5, 5]);
    expect(sizes['fc6.weight']).toEqual([4096, 9216]);
    // The shape table that the errors and the CLI print agrees with what was built.
    expect(net.shapes()).toEqual(
      deploy
        .filter(([name]) => /^(conv|pool|fc)/.test(name))
        .map(([name, , , shape]) => ({ name, shape })),
    );
    input.dispose();
    net.dispose();
  });

  test('67 is the smallest input size; 66 names the layer that does not fit', () => {
    const net = new AlexNet({ device: 'cpu', classes: 2, inputSize: 67, widthScale: 0.0625 });
    expect(net.shapes().find((s) => s.name === 'pool5')?.shape).toEqual([16, 1, 1]);
    net.dispose();
    expect(() => new AlexNet({ device: 'cpu', inputSize: 66 })).toThrow(
      'Expected inputSize >= 67 but received 66: pool5 would get a 2x2 input and produce nothing',
    );
  });
});

describe('AlexNet training step against PyTorch', () => {
  const f = loadFixture<SmallAlexNetMeta>('small_alexnet');

  test('three steps: loss, gradients and weights (dropout 0, width 1/16, input 99)', async () => {
    const net = new AlexNet({
      device: 'cpu',
      classes: 10,
      inputSize: 99,
      widthScale: 1 / 16,
      dropout: 0,
    });
    const params = net.parameters();
    expect(params.map((p) => p.name)).toEqual(f.meta.parameters);
    for (const p of params) p.value.write(f.tensor(p.name).data);
    const { lr, momentum, weight_decay } = f.meta.sgd;
    const opt = new SGD(net, { lr, momentum, weightDecay: weight_decay });
    const x = f.tensor('x');
    const labels = f.int32('labels').data;
    const losses = f.tensor('losses').data;
    const logits = f.tensor('logits').data;
    expectClose(
      await net.forward(x.data, x.shape[0]),
      logits,
      { rtol: 0, atol: NET_TOLERANCE * maxAbs(logits) },
      'logits',
    );

    for (let step = 1; step <= f.meta.steps; ++step) {
      const loss = (await trainStep(net, opt, { x: x.data, labels: labels, n: x.shape[0] })).loss;
      // The loss moves by at most 2·max|Δlogit| (fixtures.test.ts).
      expectClose(
        [loss],
        [losses[step - 1]],
        { rtol: 0, atol: NET_TOLERANCE * 2 * maxAbs(logits) },
        `loss ${step}`,
      );
      if (step === 1) {
        for (const p of params) {
          const expected = f.tensor(`grad/${p.name}`).data;
          expectClose(
            p.grad.toArray(),
            expected,
            { rtol: 0, atol: NET_TOLERANCE * maxAbs(expected) },
            `grad ${p.name}`,
          );
        }
      }
      for (const p of params) {
        const expected = f.tensor(`step${step}/${p.name}`).data;
        const start = f.tensor(p.name).data;
        const update = maxAbs(expected.map((v, i) => v - start[i]));
        // Gradient rounding reaches the weights scaled like the updates; each step also rounds
        // the weight itself on both sides.
        expectClose(
          p.value.toArray(),
          expected,
          { rtol: 0, atol: NET_TOLERANCE * update + 2 * step * U * maxAbs(expected) },
          `step ${step} ${p.name}`,
        );
      }
    }
    expect(net.step).toBe(3);
    opt.dispose();
    net.dispose();
  });
});

describe('AlexNet behaviour', () => {
  const small = { device: 'cpu' as const, classes: 3, inputSize: 67, widthScale: 1 / 16 };
  const batch = (n: number, seed: number) => {
    const x = new Float32Array(n * 3 * 67 * 67);
    let s = seed;
    for (let i = 0; i < x.length; ++i) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      x[i] = s / 2 ** 32 - 0.5;
    }
    return x;
  };

  test('the same seed gives the same weights, another seed others', () => {
    const a = new AlexNet({ ...small, seed: 5 });
    const b = new AlexNet({ ...small, seed: 5 });
    const c = new AlexNet({ ...small, seed: 6 });
    const w = (n: AlexNet) => n.parameters()[0].value.toArray();
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    for (const n of [a, b, c]) n.dispose();
  });

  test('He init: weight std is sqrt(2 / fan_in), biases 0; paper init: std 0.01, biases 1 in conv2', () => {
    const he = new AlexNet({ ...small, widthScale: 0.25 });
    const fc7 = he.parameters().find((p) => p.name === 'fc7.weight')!;
    const values = fc7.value.toArray();
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    // 1024 x 1024 samples: the sample std is within 1% of sqrt(2 / 1024) with overwhelming odds.
    expect(Math.abs(std / Math.sqrt(2 / 1024) - 1)).toBeLessThan(0.01);
    he.dispose();
    const paper = new AlexNet({ ...small, init: 'paper' });
    const bias = (name: string) =>
      paper
        .parameters()
        .find((p) => p.name === name)!
        .value.toArray();
    expect([...bias('conv2.bias')].every((v) => v === 1)).toBe(true);
    expect([...bias('conv3.bias')].every((v) => v === 0)).toBe(true);
    paper.dispose();
  });

  test('forward is deterministic and leaves training state alone; trainStep changes weights', () => {
    const net = new AlexNet(small);
    const x = batch(2, 1);
    const a = net.forwardSync(x, 2);
    expect(a).toHaveLength(6);
    expect(net.forwardSync(x, 2)).toEqual(a);
    const opt = new SGD(net, { lr: 0.01 });
    trainStepSync(net, opt, { x: x, labels: new Int32Array([0, 2]), n: 2 }).loss;
    expect(net.forwardSync(x, 2)).not.toEqual(a);
    opt.dispose();
    net.dispose();
  });

  test('trainLayers: frozen layers keep their weights and get no gradient', () => {
    const net = new AlexNet({ ...small, trainLayers: ['fc7', 'fc8'] });
    const before = new Map(net.parameters().map((p) => [p.name, p.value.toArray()]));
    const opt = new SGD(net, { lr: 0.1 });
    trainStepSync(net, opt, { x: batch(4, 2), labels: new Int32Array([0, 1, 2, 0]), n: 4 }).loss;
    for (const p of net.parameters()) {
      const trained = p.name.startsWith('fc7') || p.name.startsWith('fc8');
      const changed = !p.value.toArray().every((v, i) => v === before.get(p.name)![i]);
      expect([p.name, changed]).toEqual([p.name, trained]);
      if (!trained) expect(p.grad.toArray().every((v) => v === 0)).toBe(true);
    }
    opt.dispose();
    net.dispose();
  });

  test('save and load round-trip; fc8 of another size needs skip', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-'));
    const file = path.join(dir, 'net.safetensors');
    const a = new AlexNet({ ...small, seed: 1 });
    a.classNames = ['cat', 'dog', 'bird'];
    await a.save(file);
    const b = new AlexNet({ ...small, seed: 2 });
    await b.load(file);
    const x = batch(1, 3);
    expect(b.forwardSync(x, 1)).toEqual(a.forwardSync(x, 1));
    expect(b.classNames).toEqual(['cat', 'dog', 'bird']);
    const c = new AlexNet({ ...small, classes: 2 });
    await expect(c.load(file)).rejects.toThrow(
      `${file}: fc8.weight has shape [3, 256] but the model expects [2, 256] (a different number of classes? load with { skip: ['fc8'] })`,
    );
    await c.load(file, { skip: ['fc8'] });
    for (const n of [a, b, c]) n.dispose();
    fs.rmSync(dir, { recursive: true });
  });

  test('a non-finite loss throws naming the step and changes no weight', () => {
    const net = new AlexNet(small);
    const opt = new SGD(net);
    const before = net.parameters().map((p) => p.value.toArray());
    const x = batch(2, 4).fill(Number.NaN);
    expect(
      () => trainStepSync(net, opt, { x: x, labels: new Int32Array([0, 1]), n: 2 }).loss,
    ).toThrow(NonFiniteLossError);
    expect(
      () => trainStepSync(net, opt, { x: x, labels: new Int32Array([0, 1]), n: 2 }).loss,
    ).toThrow(
      'Loss became NaN at step 0; no weights were updated. Try a lower learning rate (--lr).',
    );
    expect(net.parameters().map((p) => p.value.toArray())).toEqual(before);
    opt.dispose();
    net.dispose();
  });

  test('bad options and inputs are clear errors', () => {
    expect(() => new AlexNet({ preset: 'vgg' as 'bvlc' })).toThrow(
      "Expected one of bvlc, paper, torchvision for preset but received 'vgg' of type string",
    );
    expect(() => new AlexNet({ classes: 1 })).toThrow(
      'Expected integer >= 2 for classes but received 1 of type number',
    );
    expect(() => new AlexNet({ ...small, trainLayers: ['fc9' as 'fc8'] })).toThrow(
      'Expected one of conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8 in trainLayers but received "fc9"',
    );
    const net = new AlexNet(small);
    const opt = new SGD(net);
    expect(
      () => trainStepSync(net, opt, { x: batch(2, 5), labels: new Int32Array([0, 3]), n: 2 }).loss,
    ).toThrow('Expected labels in [0, 2] but received 3 at index 1');
    expect(() => net.forwardSync(new Float32Array(10), 1)).toThrow(
      `Expected Float32Array of length ${3 * 67 * 67} for x but received length 10`,
    );
    opt.dispose();
    net.dispose();
    expect(() => net.forwardSync(batch(1, 6), 1)).toThrow('This AlexNet has been disposed');
  });
});
