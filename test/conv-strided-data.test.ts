/**
 * The backward-data passes of strided convolutions against the float64 adjoint, on 1, 2 and 3
 * threads and on every kernel this machine runs, with the same bits whatever the thread count:
 *
 * - im2col (native/cpu/conv.cc: the column matrix a block of output rows at a time, summed into dx
 *   row by row, the images' rows split between the threads), forced with ALEXNET_CONV_ALGO=im2col
 *   on every case. The cases cut images between threads mid-image (conv1 at batch 3 on 2
 *   threads), give a thread several images or pieces of two, and reach the block logic's edges:
 *   rows of dx that later output rows reach too (stride below the filter), rows and columns no tap
 *   reaches (stride above it), padding on one side only, groups and rectangular filters.
 * - by phases (native/cpu/conv_phases.h), with ALEXNET_CONV_ALGO=direct as without it, for the
 *   cases without padding (the stride-1 case runs direct, the padded ones im2col), with the AVX-512
 *   and AVX2 kernels (the generic one has none, and runs them im2col): one
 *   to three input channels, phases of one to three taps a side, bands of phase rows split
 *   between threads mid-image, bands and rows of a few vectors (the kernels' single-vector calls)
 *   and of many (their runs).
 *
 * Each run is a child process with ALEXNET_CONV_ALGO, ALEXNET_GEMM_ISA naming the kernel and
 * ALEXNET_NUM_THREADS, which the addon reads once per process; the child reports the algorithm.
 */
import type { ConvShape } from '../lib';
import { expectFreshBuild } from './util/built-cli';
import { accumulation, floatBits as bits, expectClose } from './util/compare';
import { BVLC_CONVS, convBackwardData, dimsOf, outputSize } from './util/conv';
import {
  CONV_CHILD_PRELUDE,
  decodeFloats,
  encodeFloats,
  KERNELS,
  runKernelChild,
} from './util/kernels';
import { Rng, testSeed } from './util/random';

/** [name, shape, the algorithm ALEXNET_CONV_ALGO=direct runs it with]. */
const CASES: [string, ConvShape, string][] = [
  ['AlexNet conv1 (11x11, stride 4), batch 3', { ...BVLC_CONVS.conv1, batch: 3 }, 'phases'],
  [
    'stride 2, pad 1, batch 5 of 9x8 images',
    { batch: 5, inChannels: 3, height: 9, width: 8, outChannels: 4, kernel: 3, stride: 2, pad: 1 },
    'im2col',
  ],
  [
    'stride 3 above a 2x2 filter (rows and columns no tap reaches)',
    { batch: 2, inChannels: 2, height: 10, width: 11, outChannels: 3, kernel: 2, stride: 3 },
    'im2col',
  ],
  [
    'rectangular filter and stride, padding in rows only, groups 2',
    {
      batch: 3,
      inChannels: 4,
      height: 17,
      width: 19,
      outChannels: 6,
      kernel: [3, 5],
      stride: [2, 3],
      pad: [1, 0],
      groups: 2,
    },
    'im2col',
  ],
  [
    'stride 1, pad 2, 64 rows (several blocks of output rows per image)',
    { batch: 2, inChannels: 3, height: 64, width: 20, outChannels: 5, kernel: 5, pad: 2 },
    'direct',
  ],
  [
    'one channel, stride 2 over a 4x4 filter (phases of 2 x 2 taps)',
    { batch: 2, inChannels: 1, height: 10, width: 12, outChannels: 5, kernel: 4, stride: 2 },
    'phases',
  ],
  [
    'two channels, stride 3 over a 7x7 filter (phases of 3 and 2 taps), 19 phase rows (two bands)',
    { batch: 2, inChannels: 2, height: 55, width: 16, outChannels: 6, kernel: 7, stride: 3 },
    'phases',
  ],
  [
    'a 5x4 filter at stride 2x4 (one tap a phase across), batch 5 of 3 bands each',
    {
      batch: 5,
      inChannels: 3,
      height: 75,
      width: 20,
      outChannels: 7,
      kernel: [5, 4],
      stride: [2, 4],
    },
    'phases',
  ],
];

const seed = testSeed();
const rng = new Rng(seed);
const DATA = CASES.map(([, shape]) => {
  const s = dimsOf(shape);
  const [oh, ow] = outputSize(s);
  return {
    w: rng.uniform(s.k * (s.c / s.groups) * s.kh * s.kw),
    dy: rng.uniform(s.n * s.k * oh * ow),
  };
});

/** Run in the child: dx of every case, with the algorithm and kernel that made it. */
const CHILD = `${CONV_CHILD_PRELUDE}
const out = input.cases.map(({ shape, w, dy }) => {
  const plan = new api.ConvPlan(shape);
  const p = plan.inputShape, q = plan.weightShape, o = plan.outputShape;
  const algorithm = convAlgorithms(plan, shape).backwardData;
  const tw = api.Tensor.from(decode(w), q);
  const tdy = api.Tensor.from(decode(dy), o);
  const dx = api.Tensor.zeros(p);
  dx.fill(NaN);
  plan.backwardData(tw, tdy, dx);
  const result = { algorithm, dx: encode(dx.toArray()) };
  for (const t of [tw, tdy, dx]) t.dispose();
  plan.dispose();
  return result;
});
process.stdout.write(JSON.stringify({ isa: native.gemmIsa, out }));
`;

function runChild(
  algorithm: string,
  env: Record<string, string>,
): {
  isa: string;
  algorithms: string[];
  dx: Float32Array[];
} {
  const input = JSON.stringify({
    cases: CASES.map(([, shape], i) => ({
      shape,
      w: encodeFloats(DATA[i].w),
      dy: encodeFloats(DATA[i].dy),
    })),
  });
  const { isa, out } = runKernelChild<{ isa: string; out: { algorithm: string; dx: string }[] }>(
    CHILD,
    { ALEXNET_CONV_ALGO: algorithm, ...env },
    input,
  );
  return { isa, algorithms: out.map((c) => c.algorithm), dx: out.map((c) => decodeFloats(c.dx)) };
}

describe(`strided backward-data against float64, on 1 to 3 threads (seed ${seed})`, () => {
  let references: Float64Array[] = [];
  beforeAll(() => {
    expectFreshBuild();
    references = CASES.map(([, shape], i) =>
      convBackwardData(DATA[i].dy, DATA[i].w, dimsOf(shape)),
    );
  });

  // [what runs, ALEXNET_CONV_ALGO, the algorithm each case then runs with a kernel]. The generic
  // kernel has none by phases (native/cpu/conv_kernel_generic.cc).
  const ALGORITHMS: [string, string, (isa: string) => string[]][] = [
    ['im2col', 'im2col', () => CASES.map(() => 'im2col')],
    [
      'direct or by phases where they can',
      'direct',
      (isa) =>
        CASES.map(([, , direct]) => (direct === 'phases' && isa === 'generic' ? 'im2col' : direct)),
    ],
  ];
  for (const [isa, runs, why] of KERNELS) {
    for (const [title, algorithm, expectedFor] of ALGORITHMS) {
      const expected = expectedFor(isa);
      (runs ? test : test.skip)(
        `the ${isa} kernel, ${title}: dx of every case close to float64, the same bits on 1, 2 and 3 threads${runs ? '' : ` (skipped: ${why})`}`,
        () => {
          const [one, two, three] = ['1', '2', '3'].map((threads) =>
            runChild(algorithm, { ALEXNET_GEMM_ISA: isa, ALEXNET_NUM_THREADS: threads }),
          );
          for (const run of [one, two, three]) {
            expect(run.isa).toBe(isa);
            expect(run.algorithms).toEqual(expected);
          }
          CASES.forEach(([name, shape], i) => {
            const s = dimsOf(shape);
            // dx sums, over the k / groups filters that read it, the taps that land on it.
            expectClose(
              one.dx[i],
              references[i],
              accumulation((s.k / s.groups) * s.kh * s.kw),
              `${name}: dx`,
            );
            expect(bits(two.dx[i]).equals(bits(one.dx[i]))).toBe(true);
            expect(bits(three.dx[i]).equals(bits(one.dx[i]))).toBe(true);
          });
        },
      );
    }
  }
});
