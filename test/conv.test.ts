import { ArgumentError, ConvPlan, type ConvShape, DisposedError, ShapeError, Tensor } from '../lib';
import { cudaUnavailable } from '../lib/device';
import { native } from '../lib/native';
import { accumulation, expectClose } from './util/compare';
import {
  BVLC_CONVS,
  convForward,
  dimsOf,
  inputGradientFd,
  outputSize,
  weightGradientFd,
} from './util/conv';
import { sampleIndices } from './util/gradient';
import { Rng, testSeed } from './util/random';

interface Check {
  /** Indices of dx and dw checked against finite differences (all of them when fewer). */
  samples: number;
  backward: boolean;
}

function checkConv(rng: Rng, shape: ConvShape, { samples, backward }: Check): void {
  const s = dimsOf(shape);
  const plan = new ConvPlan(shape);
  const [oh, ow] = outputSize(s);
  expect(plan.inputShape).toEqual([s.n, s.c, s.h, s.w]);
  expect(plan.weightShape).toEqual([s.k, s.c / s.groups, s.kh, s.kw]);
  expect(plan.outputShape).toEqual([s.n, s.k, oh, ow]);
  const x = rng.uniform(s.n * s.c * s.h * s.w);
  const w = rng.uniform(s.k * (s.c / s.groups) * s.kh * s.kw);
  const r = rng.uniform(s.n * s.k * oh * ow);
  const tx = Tensor.from(x, plan.inputShape);
  const tw = Tensor.from(w, plan.weightShape);
  const ty = Tensor.zeros(plan.outputShape);
  // NaN in the outputs fails the comparison unless every element is overwritten.
  ty.fill(Number.NaN);
  plan.forward(tx, tw, ty);
  const taps = (s.c / s.groups) * s.kh * s.kw;
  expectClose(ty.toArray(), convForward(x, w, s), accumulation(taps), 'y');

  if (backward) {
    const tr = Tensor.from(r, plan.outputShape);
    const tdx = Tensor.zeros(plan.inputShape);
    const tdw = Tensor.zeros(plan.weightShape);
    tdx.fill(Number.NaN);
    tdw.fill(Number.NaN);
    plan.backwardData(tw, tr, tdx);
    plan.backwardFilter(tx, tr, tdw);
    const x64 = Float64Array.from(x);
    const w64 = Float64Array.from(w);
    const dx = tdx.toArray();
    const dw = tdw.toArray();
    const xi = sampleIndices(rng, x.length, samples);
    const wi = sampleIndices(rng, w.length, samples);
    // dx[i] sums, over the k / groups filters that read it, the taps that land on it (at most
    // kh * kw); dw[j] sums over every image and output position.
    expectClose(
      xi.map((i) => dx[i]),
      xi.map((i) => inputGradientFd(x64, w64, s, r, i)),
      accumulation((s.k / s.groups) * s.kh * s.kw),
      'dx at the sampled indices',
    );
    expectClose(
      wi.map((i) => dw[i]),
      wi.map((i) => weightGradientFd(x64, w64, s, r, i)),
      accumulation(s.n * oh * ow),
      'dw at the sampled indices',
    );
    for (const t of [tr, tdx, tdw]) t.dispose();
  }
  for (const t of [tx, tw, ty]) t.dispose();
  plan.dispose();
}

const seed = testSeed();

describe(`conv2d (seed ${seed})`, () => {
  const rng = new Rng(seed);

  // Small shapes: every index of dx and dw is checked against finite differences.
  const small: [string, ConvShape][] = [
    ['3x3, batch 1', { batch: 1, inChannels: 2, height: 6, width: 6, outChannels: 3, kernel: 3 }],
    [
      'stride 2, pad 1, batch 3, rectangular input',
      {
        batch: 3,
        inChannels: 3,
        height: 9,
        width: 8,
        outChannels: 4,
        kernel: 3,
        stride: 2,
        pad: 1,
      },
    ],
    [
      'rectangular kernel, stride and pad',
      {
        batch: 2,
        inChannels: 2,
        height: 7,
        width: 9,
        outChannels: 3,
        kernel: [2, 3],
        stride: [1, 2],
        pad: [1, 0],
      },
    ],
    [
      'groups 2, pad 1',
      {
        batch: 2,
        inChannels: 4,
        height: 8,
        width: 8,
        outChannels: 6,
        kernel: 3,
        pad: 1,
        groups: 2,
      },
    ],
    [
      'groups 3, stride 2, rectangular kernel',
      {
        batch: 3,
        inChannels: 6,
        height: 7,
        width: 7,
        outChannels: 9,
        kernel: [3, 2],
        stride: 2,
        pad: [1, 0],
        groups: 3,
      },
    ],
    [
      'stride larger than the kernel (inputs no filter reads)',
      { batch: 1, inChannels: 2, height: 10, width: 10, outChannels: 2, kernel: 2, stride: 3 },
    ],
    [
      'pad as large as the kernel (outputs that read only padding)',
      { batch: 1, inChannels: 1, height: 4, width: 4, outChannels: 2, kernel: 3, pad: 3 },
    ],
    ['1x1 kernel', { batch: 2, inChannels: 5, height: 4, width: 3, outChannels: 3, kernel: 1 }],
    [
      // 13 x 13 outputs: the CPU backend batches 4 images per GEMM, so 5 images make a chunk of
      // 4 and a chunk of 1.
      'batch 5 at 13x13, images batched into one GEMM',
      { batch: 5, inChannels: 3, height: 13, width: 13, outChannels: 4, kernel: 3, pad: 1 },
    ],
  ];
  for (const [name, shape] of small) {
    test(name, () => checkConv(rng, shape, { samples: Number.POSITIVE_INFINITY, backward: true }));
  }

  // AlexNet's layers at batch 2 (bvlc preset, 227 input): forward checked everywhere, backward
  // at sampled indices for conv1 (stride 4), conv2 (5x5, groups 2) and conv4 (groups 2, 13x13).
  const alexnet: [string, ConvShape, boolean][] = [
    ['conv1 3->96 11x11 stride 4', { ...BVLC_CONVS.conv1, batch: 2 }, true],
    ['conv2 96->256 5x5 pad 2 groups 2', { ...BVLC_CONVS.conv2, batch: 2 }, true],
    ['conv3 256->384 3x3 pad 1', { ...BVLC_CONVS.conv3, batch: 2 }, false],
    ['conv4 384->384 3x3 pad 1 groups 2', { ...BVLC_CONVS.conv4, batch: 2 }, true],
    ['conv5 384->256 3x3 pad 1 groups 2', { ...BVLC_CONVS.conv5, batch: 2 }, false],
  ];
  for (const [name, shape, backward] of alexnet) {
    test(`AlexNet ${name}, batch 2`, () => checkConv(rng, shape, { samples: 24, backward }));
  }
});

describe('ConvPlan argument checks', () => {
  const base: ConvShape = {
    batch: 1,
    inChannels: 2,
    height: 5,
    width: 5,
    outChannels: 3,
    kernel: 3,
  };

  test.each<[string, Partial<ConvShape> | Record<string, unknown>, string]>([
    ['batch 0', { batch: 0 }, 'Expected positive integer for batch but received 0 of type number'],
    [
      'fractional height',
      { height: 5.5 },
      'Expected positive integer for height but received 5.5 of type number',
    ],
    [
      'missing width',
      { width: undefined },
      'Expected positive integer for width but received undefined of type undefined',
    ],
    [
      'kernel as a string',
      { kernel: '3' },
      "Expected positive integer or [height, width] pair for kernel but received '3' of type string",
    ],
    [
      'kernel of one size',
      { kernel: [3] },
      'Expected [height, width] pair for kernel but received [3]',
    ],
    [
      'zero kernel width',
      { kernel: [3, 0] },
      'Expected positive integer for kernel[1] but received 0 of type number',
    ],
    [
      'stride 0',
      { stride: 0 },
      'Expected positive integer for stride but received 0 of type number',
    ],
    ['negative pad', { pad: -1 }, 'Expected integer >= 0 for pad but received -1 of type number'],
    [
      'fractional pad height',
      { pad: [0.5, 1] },
      'Expected integer >= 0 for pad[0] but received 0.5 of type number',
    ],
    [
      'groups 0',
      { groups: 0 },
      'Expected positive integer for groups but received 0 of type number',
    ],
    [
      'groups that do not divide inChannels',
      { inChannels: 3, outChannels: 4, groups: 2 },
      'Expected groups to divide inChannels (3) and outChannels (4) but received 2',
    ],
    [
      'groups that do not divide outChannels',
      { inChannels: 4, outChannels: 3, groups: 2 },
      'Expected groups to divide inChannels (4) and outChannels (3) but received 2',
    ],
  ])('rejects %s', (_, change, message) => {
    const shape = { ...base, ...change } as ConvShape;
    expect(() => new ConvPlan(shape)).toThrow(ArgumentError);
    expect(() => new ConvPlan(shape)).toThrow(message);
  });

  test('rejects a kernel larger than the padded input', () => {
    const shape = { ...base, height: 5, width: 7, kernel: 11, pad: [2, 1] as [number, number] };
    expect(() => new ConvPlan(shape)).toThrow(ShapeError);
    expect(() => new ConvPlan(shape)).toThrow(
      'Expected kernel of at most [9, 9] (input [5, 7] with pad [2, 1]) but received [11, 11]',
    );
  });

  test('rejects a shape that is not an object', () => {
    expect(() => new ConvPlan(null as unknown as ConvShape)).toThrow(
      'Expected ConvShape object for shape but received null',
    );
  });

  test('rejects an unknown device', () => {
    expect(() => new ConvPlan(base, 'gpu' as 'cpu')).toThrow(
      "Expected 'cpu' or 'cuda:N' for device but received 'gpu' of type string",
    );
  });

  // Which of the next three runs depends on the build; the other is skipped with its reason.
  const cudaBuilt = native.backends.includes('cuda');
  const gpuWhy = cudaUnavailable(0);
  (cudaBuilt ? test.skip : test)(
    `a CPU-only build refuses cuda:0${cudaBuilt ? ' (skipped: this build has CUDA)' : ''}`,
    () => {
      expect(() => new ConvPlan(base, 'cuda:0')).toThrow(
        "Expected an available device for device but received 'cuda:0': this build has only the cpu backend",
      );
      // The native constructor is the backstop when called without lib/.
      expect(() => new native.ConvPlan(1, 2, 5, 5, 3, 3, 3, 1, 1, 0, 0, 1, 'cuda:0')).toThrow(
        "ConvPlan: device 'cuda:0' is not built",
      );
    },
  );
  (cudaBuilt && gpuWhy.startsWith('no CUDA device') ? test : test.skip)(
    `a CUDA build without a GPU refuses cuda:0, saying why${
      cudaBuilt && gpuWhy.startsWith('no CUDA device')
        ? ''
        : ` (skipped: ${gpuWhy || 'a GPU is present'})`
    }`,
    () => {
      expect(() => new ConvPlan(base, 'cuda:0')).toThrow(
        /^ConvPlan: device 'cuda:0' is not available: .+/,
      );
    },
  );
  (gpuWhy === '' ? test : test.skip)(
    `a usable cuda:0 takes a plan${gpuWhy && ` (skipped: ${gpuWhy})`}`,
    () => {
      const plan = new ConvPlan(base, 'cuda:0');
      expect(plan.device).toBe('cuda:0');
      // 5 x 5 input, 3 x 3 kernel, no padding: 3 x 3 outputs.
      expect(plan.outputShape).toEqual([1, 3, 3, 3]);
      plan.dispose();
    },
  );

  describe('tensors', () => {
    const plan = new ConvPlan({ ...base, batch: 2, stride: 2, pad: 1 });
    const x = Tensor.zeros([2, 2, 5, 5]);
    const w = Tensor.zeros([3, 2, 3, 3]);
    const y = Tensor.zeros([2, 3, 3, 3]);
    afterAll(() => {
      for (const t of [x, w, y]) t.dispose();
      plan.dispose();
    });

    test('reports the planned shapes', () => {
      expect(plan.inputShape).toEqual([2, 2, 5, 5]);
      expect(plan.weightShape).toEqual([3, 2, 3, 3]);
      expect(plan.outputShape).toEqual([2, 3, 3, 3]);
    });

    test('rejects tensors of the wrong shape, naming each', () => {
      const bad = Tensor.zeros([2, 2, 5, 4]);
      expect(() => plan.forward(bad, w, y)).toThrow(ShapeError);
      expect(() => plan.forward(bad, w, y)).toThrow(
        'Expected shape [2, 2, 5, 5] for x but received [2, 2, 5, 4]',
      );
      expect(() => plan.forward(x, x, y)).toThrow(
        'Expected shape [3, 2, 3, 3] for w but received [2, 2, 5, 5]',
      );
      expect(() => plan.forward(x, w, x)).toThrow(
        'Expected shape [2, 3, 3, 3] for y but received [2, 2, 5, 5]',
      );
      expect(() => plan.backwardData(w, x, x)).toThrow(
        'Expected shape [2, 3, 3, 3] for dy but received [2, 2, 5, 5]',
      );
      expect(() => plan.backwardData(w, y, y)).toThrow(
        'Expected shape [2, 2, 5, 5] for dx but received [2, 3, 3, 3]',
      );
      expect(() => plan.backwardFilter(x, y, x)).toThrow(
        'Expected shape [3, 2, 3, 3] for dw but received [2, 2, 5, 5]',
      );
      bad.dispose();
    });

    test('rejects arguments that are not tensors', () => {
      expect(() => plan.forward(x, 'w' as unknown as Tensor, y)).toThrow(
        "Expected Tensor for w but received 'w' of type string",
      );
      expect(() => plan.backwardFilter(x, y, new Float32Array(54) as unknown as Tensor)).toThrow(
        'Expected Tensor for dw but received an object of type Float32Array',
      );
    });

    test('rejects a disposed tensor', () => {
      const gone = Tensor.zeros([2, 2, 5, 5]);
      gone.dispose();
      expect(() => plan.forward(gone, w, y)).toThrow(DisposedError);
      expect(() => plan.forward(gone, w, y)).toThrow('Tensor x [2, 2, 5, 5] has been disposed');
    });

    test('rejects a disposed plan, in lib/ and natively', () => {
      const other = new ConvPlan({ ...base, batch: 2, stride: 2, pad: 1 });
      other.dispose();
      other.dispose();
      expect(() => other.forward(x, w, y)).toThrow(DisposedError);
      expect(() => other.backwardData(w, y, x)).toThrow(
        'ConvPlan [2, 2, 5, 5] -> [2, 3, 3, 3] has been disposed',
      );
      const handle = new native.ConvPlan(2, 2, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 'cpu');
      handle.dispose();
      expect(() => native.conv2dForward(handle, x.handle, w.handle, y.handle)).toThrow(
        'ConvPlan has been disposed',
      );
      expect(() => native.conv2dForward(x.handle, x.handle, w.handle, y.handle)).toThrow(
        'Expected a ConvPlan for plan',
      );
    });
  });
});
