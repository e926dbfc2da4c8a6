/**
 * The lesser GEMM micro-kernels on this machine. The CPU backend picks its kernel once per
 * process, the best the CPU runs (gemm.test.ts and conv.test.ts check that one against float64),
 * so on an AVX-512 machine the AVX2 and generic kernels would never run in the suite.
 * ALEXNET_GEMM_ISA makes a child process use one of them (and the convolution and LRN kernels of
 * the same instruction set): each child computes the same GEMMs (one per driver path: packed,
 * rows split, columns split, B read in place, dot products, broadcasts, a short inner dimension,
 * B far larger than A), convolution passes and LRN passes on the built package, and its results
 * must equal the default kernel's within float32 summation-order error; and AlexNet's max pooling,
 * whose results must equal the default kernel's bit for bit, as LRN with the pooling after it
 * (LrnPlan.forwardPooled) must equal LRN then the pooling on each kernel.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expectFreshBuild } from './util/built-cli';
import { floatBits } from './util/compare';
import { hasAvx2, hasAvx512 } from './util/kernels';

const DIST = path.join(__dirname, '..', 'dist', 'lib');

// [m, n, k, transA, transB], each reaching one path of Sgemm (native/cpu/gemm.cc).
const GEMMS: [number, number, number, boolean, boolean][] = [
  [150, 70, 300, false, false], // more row strips than column strips: GemmRows
  [40, 150, 300, true, false], // more column strips: GemmColumns
  [20, 100, 600, false, false], // few rows, B as stored: GemmInPlaceB, a narrow last strip
  [5, 33, 17, false, true], // under 8 rows, B transposed: dot products
  [13, 33, 17, false, true], // 8-32 rows, B transposed: GemmBroadcast
  [97, 300, 40, true, false], // a short inner dimension: GemmShallow
  [37, 300, 600, false, true], // B transposed and far larger than A: GemmWideB
];

// Convolutions through the packed im2col (forward) and the plain one (backward passes), with a
// stride, padding and groups.
const CONVS = [
  { batch: 2, inChannels: 8, height: 13, width: 13, outChannels: 12, kernel: 3, pad: 1, groups: 2 },
  { batch: 1, inChannels: 3, height: 35, width: 35, outChannels: 8, kernel: 11, stride: 4 },
];

// LRN forward and backward: AlexNet's beta (the square-root path) with a window clipped at both
// ends and runs of 176 + 147 positions (a vector remainder), and the powf path at the widest
// window.
const LRNS = [
  { shape: [2, 7, 17, 19], options: { size: 5, alpha: 1, beta: 0.75, k: 1 } },
  { shape: [1, 20, 5, 3], options: { size: 15, alpha: 1, beta: 0.6, k: 2 } },
];

// Max pooling with AlexNet's windows (3x3, stride 2: the row kernels of native/cpu/pool_kernel.h)
// on rows of 11, 55 and 13 floats: outputs short of one vector, and two or more with a remainder.
const POOLS = [
  [2, 3, 9, 11],
  [1, 2, 55, 55],
  [1, 2, 13, 13],
];

/**
 * Run in the child: every result, as base64 float32, with the kernel that made them; `exact`
 * holds the results that must match bit for bit.
 */
const CHILD = `
const api = require(${JSON.stringify(path.join(DIST, 'index.js'))});
const { native } = require(${JSON.stringify(path.join(DIST, 'native.js'))});
const values = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.37));
const size = (shape) => shape.reduce((a, b) => a * b, 1);
const results = [];
for (const [m, n, k, transA, transB] of ${JSON.stringify(GEMMS)}) {
  const a = api.Tensor.from(values(m * k, 1), transA ? [k, m] : [m, k]);
  const b = api.Tensor.from(values(k * n, 2), transB ? [n, k] : [k, n]);
  const c = api.Tensor.zeros([m, n]);
  api.gemm(a, b, c, { transA, transB });
  results.push(c.toArray());
}
for (const shape of ${JSON.stringify(CONVS)}) {
  const plan = new api.ConvPlan(shape);
  const x = api.Tensor.from(values(size(plan.inputShape), 3), plan.inputShape);
  const w = api.Tensor.from(values(size(plan.weightShape), 4), plan.weightShape);
  const dy = api.Tensor.from(values(size(plan.outputShape), 5), plan.outputShape);
  const y = api.Tensor.zeros(plan.outputShape);
  const dx = api.Tensor.zeros(plan.inputShape);
  const dw = api.Tensor.zeros(plan.weightShape);
  plan.forward(x, w, y);
  plan.backwardData(w, dy, dx);
  plan.backwardFilter(x, dy, dw);
  results.push(y.toArray(), dx.toArray(), dw.toArray());
}
for (const { shape, options } of ${JSON.stringify(LRNS)}) {
  const plan = new api.LrnPlan(shape, options);
  const x = api.Tensor.from(values(size(shape), 6), shape);
  const dy = api.Tensor.from(values(size(shape), 7), shape);
  const y = api.Tensor.zeros(shape);
  const dx = api.Tensor.zeros(shape);
  plan.forward(x, y);
  plan.backward(x, y, dy, dx);
  results.push(y.toArray(), dx.toArray());
}
// Ties, zeros of both signs and NaN: each output is one of its window's values, the same one for
// every kernel.
const exact = [];
for (const shape of ${JSON.stringify(POOLS)}) {
  const plan = new api.MaxPoolPlan(shape);
  const data = values(size(shape), 8).map((v, i) => (i % 17 === 0 ? NaN : Math.round(v * 2) / 2));
  const x = api.Tensor.from(data, shape);
  const y = api.Tensor.zeros(plan.outputShape);
  plan.forward(x, y);
  exact.push(y.toArray());
}
const pooled = [];
for (const { shape, options } of ${JSON.stringify(LRNS)}) {
  const plan = new api.LrnPlan(shape, options);
  const pool = new api.MaxPoolPlan(shape, { kernel: 3, stride: 2 });
  const x = api.Tensor.from(values(size(shape), 9), shape);
  const normalised = api.Tensor.zeros(shape);
  const [separate, fused] = [api.Tensor.zeros(pool.outputShape), api.Tensor.zeros(pool.outputShape)];
  plan.forward(x, normalised);
  pool.forward(normalised, separate);
  plan.forwardPooled(x, pool, fused);
  pooled.push(separate.toArray(), fused.toArray());
}
const encode = (r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64');
process.stdout.write(
  JSON.stringify({
    isa: native.gemmIsa,
    results: results.map(encode),
    exact: exact.map(encode),
    pooled: pooled.map(encode),
  }),
);
`;

interface ChildResult {
  isa: string;
  results: Float32Array[];
  exact: Float32Array[];
  /** LRN then the pooling, and LRN with the pooling, for each of LRNS. */
  pooled: Float32Array[];
}

function runWith(isa: string | undefined): ChildResult {
  const env = { ...process.env };
  delete env.ALEXNET_GEMM_ISA;
  if (isa) env.ALEXNET_GEMM_ISA = isa;
  const child = spawnSync(process.execPath, ['-e', CHILD], { env, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`child with ALEXNET_GEMM_ISA=${isa}: ${child.stderr}`);
  const parsed = JSON.parse(child.stdout) as {
    isa: string;
    results: string[];
    exact: string[];
    pooled: string[];
  };
  const decode = (r: string) => {
    const bytes = Buffer.from(r, 'base64');
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  };
  return {
    isa: parsed.isa,
    results: parsed.results.map(decode),
    exact: parsed.exact.map(decode),
    pooled: parsed.pooled.map(decode),
  };
}

// A kernel is checked where it is a lesser one than the default: AVX2 under AVX-512, the
// generic one under either; elsewhere it would be compared with itself.
describe('GEMM kernels other than the default', () => {
  let best: ChildResult;
  beforeAll(() => {
    expectFreshBuild();
    best = runWith(undefined);
  });

  const check = (isa: string) => {
    const lesser = runWith(isa);
    expect(best.isa).not.toBe(isa);
    expect(lesser.isa).toBe(isa);
    expect(lesser.results.length).toBe(best.results.length);
    lesser.results.forEach((result, i) => {
      // Each kernel sums in its own order, and only the x86 ones fuse multiply-adds: float32
      // sums of up to 600 products of magnitude <= 1 differ by about sqrt(k) * 2^-24 of their
      // terms' sum; 1e-4 absolute bounds that with a wide margin. The LRN kernels sum in the
      // same order and differ only by fused multiply-adds: a few ulp of outputs below 2.
      const expected = best.results[i];
      let worst = 0;
      for (let j = 0; j < expected.length; ++j) {
        worst = Math.max(worst, Math.abs(result[j] - expected[j]));
      }
      expect(worst).toBeLessThan(1e-4);
    });
    expect(lesser.exact.length).toBe(POOLS.length);
    lesser.exact.forEach((result, i) => {
      expect(floatBits(result)).toEqual(floatBits(best.exact[i]));
    });
    expect(lesser.pooled.length).toBe(2 * LRNS.length);
    for (let i = 0; i < lesser.pooled.length; i += 2) {
      expect(floatBits(lesser.pooled[i + 1])).toEqual(floatBits(lesser.pooled[i]));
    }
  };

  (hasAvx512 ? test : test.skip)(
    `avx2 equals the default kernel${hasAvx512 ? '' : ' (skipped: without AVX-512, avx2 is the default or absent)'}`,
    () => check('avx2'),
  );
  (hasAvx2 ? test : test.skip)(
    `generic equals the default kernel${hasAvx2 ? '' : ' (skipped: without AVX2, generic is the default)'}`,
    () => check('generic'),
  );
});
