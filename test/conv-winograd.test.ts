/**
 * The opt-in Winograd F(4x4, 3x3) forward (native/cpu/conv_winograd.h) against float64
 * references, on every GEMM kernel this machine runs (the Winograd products are GEMMs, so
 * ALEXNET_GEMM_ISA picks their kernel): AlexNet's conv3-conv5 and shapes that reach each edge of
 * the tiling (outputs that are not a multiple of 4 tiles, tiles that cross images in a transform
 * run, a batch in several chunks, padding 0 and 2, groups, rectangular planes). Each case runs
 * in a child process with ALEXNET_CONV_ALGO=winograd, which reports the algorithm that ran; the
 * fused bias + ReLU epilogue is checked bit for bit, and the same bits are required on 1 and 3
 * threads. Without the variable, the same shapes run the direct or im2col forward: Winograd is
 * never the default.
 */
import type { ConvShape } from '../lib';
import { expectFreshBuild } from './util/built-cli';
import { expectClose, floatBits } from './util/compare';
import { BVLC_CONVS, biasReluReference, convForward, dimsOf } from './util/conv';
import {
  CONV_CHILD_PRELUDE,
  decodeFloats,
  encodeFloats,
  KERNELS,
  runKernelChild,
} from './util/kernels';
import { Rng, testSeed } from './util/random';

const CASES: [string, ConvShape][] = [
  [
    'AlexNet conv3 (13x13: 16 tiles an image, 3 of 4 rows and columns of the last cropped)',
    { ...BVLC_CONVS.conv3, batch: 2 },
  ],
  ['AlexNet conv4 (groups 2)', BVLC_CONVS.conv4],
  ['AlexNet conv5 (groups 2)', BVLC_CONVS.conv5],
  [
    '9 x 11 planes of 5 channels, batch 3: 9 tiles an image, so transform runs cross images',
    { batch: 3, inChannels: 5, height: 9, width: 11, outChannels: 21, kernel: 3, pad: 1 },
  ],
  [
    'no padding, a single partial tile',
    { batch: 1, inChannels: 7, height: 6, width: 5, outChannels: 3, kernel: 3 },
  ],
  [
    'padding 2, groups 2 of 5 outputs, rectangular planes',
    {
      batch: 2,
      inChannels: 6,
      height: 7,
      width: 20,
      outChannels: 10,
      kernel: 3,
      pad: 2,
      groups: 2,
    },
  ],
  [
    'batch 35 of 8 x 8 planes: 4 tiles an image, the batch in a chunk of 32 and one of 3',
    { batch: 35, inChannels: 3, height: 8, width: 8, outChannels: 4, kernel: 3, pad: 1 },
  ],
];

const seed = testSeed();
const rng = new Rng(seed);
const DATA = CASES.map(([, shape]) => {
  const s = dimsOf(shape);
  return {
    x: rng.uniform(s.n * s.c * s.h * s.w),
    w: rng.uniform(s.k * (s.c / s.groups) * 9),
    bias: rng.uniform(s.k),
  };
});

/** Run in the child: y and the fused y of every case, with the forward's algorithm. */
const CHILD = `${CONV_CHILD_PRELUDE}
const out = input.cases.map(({ shape, x, w, bias }) => {
  const plan = new api.ConvPlan(shape);
  const p = plan.inputShape, q = plan.weightShape, o = plan.outputShape;
  const { forward } = convAlgorithms(plan, shape);
  const tx = api.Tensor.from(decode(x), p);
  const tw = api.Tensor.from(decode(w), q);
  const tb = api.Tensor.from(decode(bias), [o[1]]);
  const y = api.Tensor.zeros(o);
  const fused = api.Tensor.zeros(o);
  y.fill(NaN);
  fused.fill(NaN);
  plan.forward(tx, tw, y);
  plan.forward(tx, tw, fused, { bias: tb, relu: true });
  const result = { forward, y: encode(y.toArray()), fused: encode(fused.toArray()) };
  for (const t of [tx, tw, tb, y, fused]) t.dispose();
  plan.dispose();
  return result;
});
process.stdout.write(JSON.stringify({ isa: native.gemmIsa, out }));
`;

interface ChildCase {
  forward: string;
  y: Float32Array;
  fused: Float32Array;
}

function runChild(env: Record<string, string>): { isa: string; out: ChildCase[] } {
  const input = JSON.stringify({
    cases: CASES.map(([, shape], i) => ({
      shape,
      x: encodeFloats(DATA[i].x),
      w: encodeFloats(DATA[i].w),
      bias: encodeFloats(DATA[i].bias),
    })),
  });
  const { isa, out } = runKernelChild<{
    isa: string;
    out: { forward: string; y: string; fused: string }[];
  }>(CHILD, env, input);
  return {
    isa,
    out: out.map((c) => ({
      forward: c.forward,
      y: decodeFloats(c.y),
      fused: decodeFloats(c.fused),
    })),
  };
}

/**
 * Inputs and weights are uniform in [-1, 1]. The direct convolution's float32 sum of `length`
 * products is within 1e-6 * length of the float64 one (conv-direct.test.ts: about 100 standard
 * deviations of its rounding). Winograd rounds values the transforms have scaled: the input
 * transform's rows add up to 10 times an input, the output transform's to 19 times a product
 * (Lavin and Gray 2016, F(4x4, 3x3)), and the 36 point products cancel on the way back, so its
 * error is several times the direct one's: measured at most 0.72e-6 * length in nine draws of the
 * small cases, and 0.29-0.37e-6 in two draws of conv3-conv5, where the direct forward's is
 * 0.05-0.06e-6.
 * 4e-6 * length leaves a fivefold margin and is still far below the O(1) error of a wrong tap,
 * point or tile.
 */
function winogradTolerance(length: number) {
  return { rtol: 0, atol: 4e-6 * length };
}

describe(`Winograd F(4x4, 3x3) forward against float64 (seed ${seed})`, () => {
  let references: Float64Array[] = [];
  beforeAll(() => {
    expectFreshBuild();
    references = CASES.map(([, shape], i) => convForward(DATA[i].x, DATA[i].w, dimsOf(shape)));
  });

  for (const [isa, runs, why] of KERNELS) {
    (runs ? test : test.skip)(
      `the ${isa} GEMM kernel: y and the fused bias + ReLU of every case${runs ? '' : ` (skipped: ${why})`}`,
      () => {
        const { isa: ran, out } = runChild({
          ALEXNET_CONV_ALGO: 'winograd',
          ALEXNET_GEMM_ISA: isa,
        });
        expect(ran).toBe(isa);
        out.forEach((result, i) => {
          const [name, shape] = CASES[i];
          const s = dimsOf(shape);
          expect(result.forward).toBe('winograd');
          expectClose(result.y, references[i], winogradTolerance((s.c / s.groups) * 9), name);
          const fused = biasReluReference(result.y, DATA[i].bias, s);
          expect(floatBits(result.fused).equals(floatBits(fused))).toBe(true);
        });
      },
    );
  }

  test('the same bits on 1 and on 3 threads', () => {
    const one = runChild({ ALEXNET_CONV_ALGO: 'winograd', ALEXNET_NUM_THREADS: '1' });
    const three = runChild({ ALEXNET_CONV_ALGO: 'winograd', ALEXNET_NUM_THREADS: '3' });
    one.out.forEach((result, i) => {
      expect(result.forward).toBe('winograd');
      expect(floatBits(three.out[i].y).equals(floatBits(result.y))).toBe(true);
    });
  });

  test('without ALEXNET_CONV_ALGO=winograd no shape runs it (the measured direct or im2col)', () => {
    for (const result of runChild({}).out) expect(['direct', 'im2col']).toContain(result.forward);
  });
});
