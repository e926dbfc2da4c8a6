/**
 * The GEMM paths of a fully connected layer's passes (native/cpu/gemm.cc), on every kernel this
 * CPU runs and on 1 and 3 threads: backward-filter dyᵀ x, whose inner dimension is the batch
 * (GemmShallow, with C written past the caches where it is overwritten, aligned and large),
 * backward-data dy W (GemmInPlaceB's few-rows tile, B read in place), the forward x Wᵀ at batch
 * 8-32 (GemmBroadcast), and the training forward with more rows and W far larger than x
 * (GemmWideB), with and without the bias + ReLU epilogue. Each child process forces one
 * kernel (ALEXNET_GEMM_ISA) and one thread count (ALEXNET_NUM_THREADS), as gemm-kernels.test.ts
 * does; every result is checked against a float64 reference, and the bits on 1 and 3 threads
 * must be the same.
 */
import * as path from 'node:path';
import { expectFreshBuild } from './util/built-cli';
import { floatBits as bits, expectClose } from './util/compare';
import { decodeFloats, KERNELS, runKernelChild } from './util/kernels';

const DIST = path.join(__dirname, '..', 'dist', 'lib');

interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB?: boolean;
  beta: number;
  /** Bias per column of C (values(n, 4)), then ReLU. */
  epilogue?: boolean;
}

// Row counts and widths leave partial tiles on every kernel (MR 12, 6, 4; NR 32, 16, 8; the
// few-rows tiles 8 x 48, 4 x 24, 4 x 8).
const CASES: Case[] = [
  // 1030 x 2064 floats of C (over the 2^21 from which an overwritten C is streamed), rows 2064
  // floats apart (a multiple of 16, so that tiles are aligned); a last column strip of 16.
  { name: 'backward-filter streamed', m: 1030, n: 2064, k: 16, transA: true, beta: 0 },
  // Batch 128: all of k in one KC block, B (128 x 300) packed whole.
  { name: 'backward-filter batch 128', m: 101, n: 300, k: 128, transA: true, beta: 0 },
  // The same path adding to C: no streaming.
  { name: 'backward-filter accumulated', m: 101, n: 299, k: 64, transA: true, beta: 0.5 },
  // Two KC = 256 blocks and a last one of 188; a last strip of 40 columns (8 x 48 tile).
  { name: 'backward-data batch 16', m: 16, n: 1000, k: 700, transA: false, beta: 0 },
  { name: 'backward-data batch 5', m: 5, n: 130, k: 300, transA: false, beta: 0.5 },
  // More rows than 32, B at least 4 times as wide: still read in place (batch 128's backward-data).
  { name: 'backward-data batch 45', m: 45, n: 400, k: 520, transA: false, beta: 0 },
  // Batch 8-32: B's elements broadcast against the batch (GemmBroadcast), vectors of the batch
  // filled (16), part filled (11, 23), and a last tile of B rows partial (n % 8).
  ...['8', '11', '16', '23', '32'].map((m) => ({
    name: `forward batch ${m}`,
    m: Number(m),
    n: 45,
    k: 301,
    transA: false,
    transB: true,
    beta: m === '11' ? 0.5 : 0,
    epilogue: m === '16',
  })),
  // KC blocks of 256, 256 and 88; 37 rows and 300 columns leave partial tiles.
  { name: 'forward batch 37', m: 37, n: 300, k: 600, transA: false, transB: true, beta: 0 },
  {
    name: 'forward batch 37 with the epilogue',
    m: 37,
    n: 300,
    k: 600,
    transA: false,
    transB: true,
    beta: 0,
    epilogue: true,
  },
];

/** Deterministic values of magnitude <= 1. */
function values(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(seed + i * 0.37));
}

/**
 * Run in the child: every case's C, as base64 float32, with the kernel that made them; for A Bᵀ,
 * also the inference forward's C from weights packed once (PackedWeights, y = x wᵀ with the
 * case's epilogue), in `packed`.
 */
const CHILD = `
const api = require(${JSON.stringify(path.join(DIST, 'index.js'))});
const { native } = require(${JSON.stringify(path.join(DIST, 'native.js'))});
const values = ${values.toString()};
const encode = (r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64');
const results = [];
const packed = [];
for (const { m, n, k, transA, transB, beta, epilogue } of ${JSON.stringify(CASES)}) {
  const a = api.Tensor.from(values(m * k, 1), transA ? [k, m] : [m, k]);
  const b = api.Tensor.from(values(k * n, 2), transB ? [n, k] : [k, n]);
  const c = api.Tensor.from(beta === 0 ? new Float32Array(m * n).fill(NaN) : values(m * n, 3), [m, n]);
  const bias = api.Tensor.from(values(n, 4), [n]);
  const fused = epilogue ? { bias, relu: true } : {};
  api.gemm(a, b, c, { transA, transB, beta, epilogue: fused });
  results.push(encode(c.toArray()));
  if (transB) {
    const weights = new api.PackedWeights();
    weights.multiply(a, b, c, fused);
    packed.push(encode(c.toArray()));
    weights.dispose();
  } else {
    packed.push('');
  }
}
process.stdout.write(JSON.stringify({ isa: native.gemmIsa, results, packed }));
`;

interface ChildResult {
  isa: string;
  results: Float32Array[];
  packed: Float32Array[];
}

function runChild(isa: string, threads: number): ChildResult {
  const env = { ALEXNET_GEMM_ISA: isa, ALEXNET_NUM_THREADS: String(threads) };
  const parsed = runKernelChild<{ isa: string; results: string[]; packed: string[] }>(CHILD, env);
  return {
    isa: parsed.isa,
    results: parsed.results.map(decodeFloats),
    packed: parsed.packed.map(decodeFloats),
  };
}

/** float64 C = op(A) op(B) + beta C, row-major, then the epilogue where asked. */
function reference({ m, n, k, transA, transB, beta, epilogue }: Case): Float64Array {
  const a = values(m * k, 1);
  const b = values(k * n, 2);
  const c = values(m * n, 3);
  const bias = values(n, 4);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; ++i) {
    for (let p = 0; p < k; ++p) {
      const aip = transA ? a[p * m + i] : a[i * k + p];
      for (let j = 0; j < n; ++j) out[i * n + j] += aip * (transB ? b[j * k + p] : b[p * n + j]);
    }
    if (beta !== 0) for (let j = 0; j < n; ++j) out[i * n + j] += beta * c[i * n + j];
    if (epilogue)
      for (let j = 0; j < n; ++j) out[i * n + j] = Math.max(out[i * n + j] + bias[j], 0);
  }
  return out;
}

describe('GEMM paths of the fully connected layers against float64', () => {
  let references: Float64Array[] = [];
  beforeAll(() => {
    expectFreshBuild();
    references = CASES.map(reference);
  });

  for (const [isa, runs, why] of KERNELS) {
    (runs ? test : test.skip)(
      `the ${isa} kernel: every case, the same bits on 1 and 3 threads and from packed weights${runs ? '' : ` (skipped: ${why})`}`,
      () => {
        const one = runChild(isa, 1);
        const three = runChild(isa, 3);
        expect(one.isa).toBe(isa);
        CASES.forEach((c, i) => {
          // float32 sums of k products of magnitude <= 1 (and beta C): rounding of about
          // sqrt(k) * 2^-24 of the terms' sum; 1e-5 * k bounds it with a wide margin, as in
          // gemm.test.ts, and is far below the O(1) error of a wrong or missing product.
          expectClose(one.results[i], references[i], { rtol: 1e-5, atol: 1e-5 * c.k }, c.name);
          expect(bits(three.results[i]).equals(bits(one.results[i]))).toBe(true);
          // The inference forward (which overwrites C) sums in the training forward's order
          // (native/cpu/gemm.h).
          if (c.transB && c.beta === 0) {
            expect(bits(one.packed[i]).equals(bits(one.results[i]))).toBe(true);
          }
        });
      },
    );
  }
});
