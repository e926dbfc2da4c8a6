/**
 * The direct convolution (native/cpu/conv_direct.h): its forward, its backward-data pass (the
 * forward of dy with the filters transposed and flipped, for stride 1) and its backward-filter
 * pass against float64 references, on every kernel this machine runs (AVX-512, AVX2, generic),
 * for AlexNet's five convolutions and shapes that reach each edge of the kernels: channels that
 * are not a multiple of the block width (or of the backward-filter's runs of channels), a last
 * pair of blocks that is a single block, padding on one side only, no padding (the input read in
 * place), padding that the AVX-512 edge kernels skip (the input read in place, with no border),
 * rectangular filters and widths without a backward-filter kernel of their own, strides,
 * groups, rows cut into several pieces (with AVX2, a stride-1 plane's pieces running on from one
 * row into the next, at every column, and skipping the taps that fall in the border wherever a
 * piece has some), batches cut into several runs or tiles of images, the
 * backward-filter's reorders of x and dy transposed in blocks that run across rows and over
 * partial runs of channels; and the bias + ReLU epilogue fused into the forward, bit for bit.
 * Each case runs in a child process with ALEXNET_CONV_ALGO=direct (which makes every pass direct
 * that can be, even where the measured choice would not) and ALEXNET_GEMM_ISA naming the kernel
 * (the direct kernels follow the GEMM's instruction set), and the child reports which algorithm
 * and kernel ran. A last check runs the same child on 1 and on 3 threads and requires the same
 * bits.
 */
import type { ConvShape } from '../lib';
import { expectFreshBuild } from './util/built-cli';
import { accumulation, floatBits as bits, expectClose } from './util/compare';
import {
  BVLC_CONVS,
  type ConvDims,
  convBackwardData,
  convBackwardFilter,
  convForward,
  dimsOf,
  biasReluReference as epilogue,
  outputSize,
} from './util/conv';
import {
  CONV_CHILD_PRELUDE,
  decodeFloats,
  encodeFloats,
  KERNELS,
  runKernelChild,
} from './util/kernels';
import { Rng, testSeed } from './util/random';

const CASES: [string, ConvShape][] = [
  ['AlexNet conv1 (3 channels, 11x11, stride 4)', BVLC_CONVS.conv1],
  ['AlexNet conv2 (5x5, pad 2, groups 2)', BVLC_CONVS.conv2],
  ['AlexNet conv3 (3x3, pad 1), batch 2', { ...BVLC_CONVS.conv3, batch: 2 }],
  ['AlexNet conv4 (groups 2)', BVLC_CONVS.conv4],
  ['AlexNet conv5 (groups 2)', BVLC_CONVS.conv5],
  [
    '21 output channels (a partial block), 5 input channels, batch 3',
    { batch: 3, inChannels: 5, height: 9, width: 11, outChannels: 21, kernel: 3, pad: 1 },
  ],
  [
    '7x7 planes of 20 channels (a pair of blocks and a single one), for AVX2 pieces that run on into the next row',
    { batch: 1, inChannels: 20, height: 7, width: 7, outChannels: 20, kernel: 3, pad: 1 },
  ],
  [
    '13x13 planes of 20 channels: with the 7x7 case, AVX2 pieces of 5 and 6 pixels wrapping after each of their columns',
    { batch: 1, inChannels: 20, height: 13, width: 13, outChannels: 20, kernel: 3, pad: 1 },
  ],
  [
    '4x10 planes, 3x3 filter, pad 1: with the 7x7 and 13x13 cases, AVX2 pieces of 5 and 6 pixels at every place in a row where a tap falls in the border',
    { batch: 1, inChannels: 20, height: 4, width: 10, outChannels: 20, kernel: 3, pad: 1 },
  ],
  // The same for 5x5 filters with pad 2: together these four planes cut into pieces that put the
  // first pixel of a row at each place from one before a piece to two after it.
  ...[
    [3, 9],
    [3, 13],
    [4, 10],
    [5, 11],
  ].map(([height, width]): [string, ConvShape] => [
    `${height}x${width} planes, 5x5 filter, pad 2, 20 channels (AVX2's pieces whose taps fall in the border)`,
    { batch: 1, inChannels: 20, height, width, outChannels: 20, kernel: 5, pad: 2 },
  ]),
  [
    'rectangular filter, padding in rows only, groups 2 of 5 outputs, 32-pixel rows',
    {
      batch: 2,
      inChannels: 6,
      height: 8,
      width: 33,
      outChannels: 10,
      kernel: [3, 2],
      pad: [1, 0],
      groups: 2,
    },
  ],
  [
    'stride 2, pad 2, 34 output channels (a single last block)',
    {
      batch: 2,
      inChannels: 4,
      height: 15,
      width: 17,
      outChannels: 34,
      kernel: 5,
      stride: 2,
      pad: 2,
    },
  ],
  [
    'no padding (input read in place), fewer outputs than a block',
    { batch: 1, inChannels: 7, height: 6, width: 6, outChannels: 3, kernel: 3 },
  ],
  [
    'pad as large as the filter less one (backward-data reads dy in place)',
    { batch: 1, inChannels: 2, height: 4, width: 4, outChannels: 2, kernel: 3, pad: 2 },
  ],
  [
    '1x1 filter, 17 and 33 channels',
    { batch: 2, inChannels: 17, height: 5, width: 7, outChannels: 33, kernel: 1 },
  ],
  [
    'large planes: the batch in two runs of images, the sums carried from one to the next',
    { batch: 3, inChannels: 16, height: 150, width: 150, outChannels: 16, kernel: 3, pad: 1 },
  ],
  [
    'batch 3 in tiles of 2 images (the forward sweeps its weights over each tile)',
    { batch: 3, inChannels: 64, height: 30, width: 30, outChannels: 32, kernel: 3, pad: 1 },
  ],
  [
    'x and dy reordered in blocks across rows: 23 input channels (the last run partial), 19-pixel rows',
    { batch: 2, inChannels: 23, height: 5, width: 19, outChannels: 20, kernel: 3, pad: 1 },
  ],
  [
    'one input channel per group, no padding (backward-filter reads x in place), batch in 2 runs',
    { batch: 3, inChannels: 2, height: 152, width: 152, outChannels: 6, kernel: 5, groups: 2 },
  ],
  [
    'AVX-512 edge kernels (x read with no border), 13-pixel rows, 40 outputs (a single last block, partial)',
    { batch: 1, inChannels: 3, height: 13, width: 13, outChannels: 40, kernel: 3, pad: 1 },
  ],
  [
    'AVX-512 edge kernels, 27-pixel rows in pieces of 14 and 13, padding 1 in rows and 2 in columns, stride 2 in rows only',
    {
      batch: 1,
      inChannels: 3,
      height: 12,
      width: 27,
      outChannels: 20,
      kernel: 5,
      stride: [2, 1],
      pad: [1, 2],
    },
  ],
  [
    'stride larger than the filter',
    { batch: 1, inChannels: 2, height: 10, width: 10, outChannels: 2, kernel: 2, stride: 3 },
  ],
];

const seed = testSeed();

/** Inputs of each case, uniform in [-1, 1], drawn in the parent and sent to the children. */
interface CaseData {
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  bias: Float32Array;
}

const rng = new Rng(seed);
const DATA: CaseData[] = CASES.map(([, shape]) => {
  const s = dimsOf(shape);
  const oh = Math.floor((s.h + 2 * s.padH - s.kh) / s.strideH) + 1;
  const ow = Math.floor((s.w + 2 * s.padW - s.kw) / s.strideW) + 1;
  return {
    x: rng.uniform(s.n * s.c * s.h * s.w),
    w: rng.uniform(s.k * (s.c / s.groups) * s.kh * s.kw),
    dy: rng.uniform(s.n * s.k * oh * ow),
    bias: rng.uniform(s.k),
  };
});

/** Run in the child: y and dx of every case, with the algorithms and kernel that made them. */
const CHILD = `${CONV_CHILD_PRELUDE}
const out = input.cases.map(({ shape, x, w, dy, bias }) => {
  const plan = new api.ConvPlan(shape);
  const p = plan.inputShape, q = plan.weightShape, o = plan.outputShape;
  const algorithms = convAlgorithms(plan, shape);
  const tx = api.Tensor.from(decode(x), p);
  const tw = api.Tensor.from(decode(w), q);
  const tdy = api.Tensor.from(decode(dy), o);
  const tb = api.Tensor.from(decode(bias), [o[1]]);
  const y = api.Tensor.zeros(o);
  const fused = api.Tensor.zeros(o);
  const dx = api.Tensor.zeros(p);
  const dw = api.Tensor.zeros(q);
  for (const t of [y, fused, dx, dw]) t.fill(NaN);
  plan.forward(tx, tw, y);
  plan.forward(tx, tw, fused, { bias: tb, relu: true });
  plan.backwardData(tw, tdy, dx);
  plan.backwardFilter(tx, tdy, dw);
  const result = {
    algorithms, y: encode(y.toArray()), fused: encode(fused.toArray()), dx: encode(dx.toArray()),
    dw: encode(dw.toArray()),
  };
  for (const t of [tx, tw, tdy, tb, y, fused, dx, dw]) t.dispose();
  plan.dispose();
  return result;
});
process.stdout.write(JSON.stringify({ isa: native.gemmIsa, out }));
`;

interface ChildCase {
  algorithms: { forward: string; backwardData: string; backwardFilter: string; isa: string };
  y: Float32Array;
  fused: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

function runChild(env: Record<string, string>): { isa: string; out: ChildCase[] } {
  const input = JSON.stringify({
    cases: CASES.map(([, shape], i) => ({
      shape,
      x: encodeFloats(DATA[i].x),
      w: encodeFloats(DATA[i].w),
      dy: encodeFloats(DATA[i].dy),
      bias: encodeFloats(DATA[i].bias),
    })),
  });
  const { isa, out } = runKernelChild<{
    isa: string;
    out: {
      algorithms: ChildCase['algorithms'];
      y: string;
      fused: string;
      dx: string;
      dw: string;
    }[];
  }>(CHILD, { ALEXNET_CONV_ALGO: 'direct', ...env }, input);
  return {
    isa,
    out: out.map((c) => ({
      algorithms: c.algorithms,
      y: decodeFloats(c.y),
      fused: decodeFloats(c.fused),
      dx: decodeFloats(c.dx),
      dw: decodeFloats(c.dw),
    })),
  };
}

describe(`direct convolution against float64 (seed ${seed})`, () => {
  // The references, once for all kernels: y from the forward, dx from the adjoint.
  let references: { s: ConvDims; y: Float64Array; dx: Float64Array; dw: Float64Array }[] = [];
  beforeAll(() => {
    expectFreshBuild();
    references = CASES.map(([, shape], i) => {
      const s = dimsOf(shape);
      return {
        s,
        y: convForward(DATA[i].x, DATA[i].w, s),
        dx: convBackwardData(DATA[i].dy, DATA[i].w, s),
        dw: convBackwardFilter(DATA[i].x, DATA[i].dy, s),
      };
    });
  });

  for (const [isa, runs, why] of KERNELS) {
    (runs ? test : test.skip)(
      `the ${isa} kernels: forward, backward-data and backward-filter of every case${runs ? '' : ` (skipped: ${why})`}`,
      () => {
        const { isa: ran, out } = runChild({ ALEXNET_GEMM_ISA: isa });
        expect(ran).toBe(isa);
        out.forEach((result, i) => {
          const [name] = CASES[i];
          const { s, y, dx, dw } = references[i];
          expect(result.algorithms.isa).toBe(isa);
          expect(result.algorithms.forward).toBe('direct');
          // y sums (c / groups) * kh * kw products.
          expectClose(result.y, y, accumulation((s.c / s.groups) * s.kh * s.kw), `${name}: y`);
          // The epilogue in the kernel: the bits of the bias op then the ReLU op on that y.
          expect(bits(result.fused).equals(bits(epilogue(result.y, DATA[i].bias, s)))).toBe(true);
          // The backward-data pass is direct where the stride is 1 (and the padding below the
          // filter size), by phases where a strided one pads nothing and its filter spans the
          // stride (conv1 here) and the kernel has them (not the generic one), else im2col; dx
          // sums at most (k / groups) * kh * kw products either way.
          const direct = s.strideH === 1 && s.strideW === 1;
          const phases =
            !direct &&
            isa !== 'generic' &&
            s.padH === 0 &&
            s.padW === 0 &&
            s.kh >= s.strideH &&
            s.kw >= s.strideW;
          expect(result.algorithms.backwardData).toBe(
            direct ? 'direct' : phases ? 'phases' : 'im2col',
          );
          expectClose(result.dx, dx, accumulation((s.k / s.groups) * s.kh * s.kw), `${name}: dx`);
          // dw sums over every image and output pixel.
          const [oh, ow] = outputSize(s);
          expect(result.algorithms.backwardFilter).toBe('direct');
          expectClose(result.dw, dw, accumulation(s.n * oh * ow), `${name}: dw`);
        });
      },
    );
  }

  test('the same bits on 1 and on 3 threads', () => {
    const one = runChild({ ALEXNET_NUM_THREADS: '1' });
    const three = runChild({ ALEXNET_NUM_THREADS: '3' });
    one.out.forEach((result, i) => {
      expect(result.algorithms.forward).toBe('direct');
      expect(bits(three.out[i].y).equals(bits(result.y))).toBe(true);
      expect(bits(three.out[i].dx).equals(bits(result.dx))).toBe(true);
      expect(bits(three.out[i].dw).equals(bits(result.dw))).toBe(true);
    });
  });
});
