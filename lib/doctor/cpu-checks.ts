/**
 * The CPU backend against float64 references written out loop by loop, on small seeded random
 * inputs: what `alexnet doctor` checks on every machine, in well under a second, so that a GEMM
 * kernel that goes wrong on one CPU (the AVX-512 or AVX2 micro-kernel picked at load time) is
 * caught where no GPU is there to compare with. The references follow the ops' definitions
 * (lib/ops: cuDNN's cross-correlation with groups, Caffe's LRN with alpha divided by the size).
 *
 * Tolerances. Inputs are uniform in [-1, 1], so each term of a sum is at most 1 and a float32
 * sum of `length` terms differs from the exact one by about 2^-24 * length / 7 (test/conv.test.ts):
 * 1e-6 * length is ample, while a wrong index gives O(1) errors. LRN goes through powf: 1e-5
 * relative. Max-pool forward picks an input: exact.
 */
import { ConvPlan, type ConvShape } from '../ops/conv';
import { gemm } from '../ops/gemm';
import { softmaxCrossEntropy } from '../ops/loss';
import { LrnPlan } from '../ops/lrn';
import { MaxPoolPlan } from '../ops/pool';
import type { Rng } from '../random';
import { Tensor } from '../tensor';
import { accumulation, type CheckResult, compare, EXACT, guarded } from './compare';
import { scoped, size } from './scope';

/** A conv2 of AlexNet in miniature: 5x5, padding 2, stride 2, two groups. */
const CONV = {
  batch: 2,
  inChannels: 6,
  height: 11,
  width: 9,
  outChannels: 8,
  kernel: 5,
  stride: 2,
  pad: 2,
  groups: 2,
} satisfies ConvShape;

/** Forward, backward-data and backward-filter of CONV in float64, one term at a time. */
function convReference(x: Float32Array, w: Float32Array, dy: Float32Array) {
  const { batch: n, inChannels: c, height: h, width: wd, outChannels: k } = CONV;
  const { kernel: kk, stride, pad, groups } = CONV;
  const oh = Math.floor((h + 2 * pad - kk) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - kk) / stride) + 1;
  const [cg, kg] = [c / groups, k / groups];
  const y = new Float64Array(n * k * oh * ow);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < n; ++b)
    for (let o = 0; o < k; ++o)
      for (let oy = 0; oy < oh; ++oy)
        for (let ox = 0; ox < ow; ++ox) {
          const yi = ((b * k + o) * oh + oy) * ow + ox;
          for (let i = 0; i < cg; ++i)
            for (let ky = 0; ky < kk; ++ky)
              for (let kx = 0; kx < kk; ++kx) {
                const [iy, ix] = [oy * stride - pad + ky, ox * stride - pad + kx];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                const xi = ((b * c + Math.floor(o / kg) * cg + i) * h + iy) * wd + ix;
                const wi = ((o * cg + i) * kk + ky) * kk + kx;
                y[yi] += x[xi] * w[wi];
                dx[xi] += w[wi] * dy[yi];
                dw[wi] += x[xi] * dy[yi];
              }
        }
  return { y, dx, dw, outShape: [n, k, oh, ow] };
}

function checkConv(rng: Rng): Promise<CheckResult[]> {
  return scoped((scope) => {
    const plan = scope.keep(new ConvPlan(CONV, 'cpu'));
    const [inShape, wShape, outShape] = [plan.inputShape, plan.weightShape, plan.outputShape];
    const [x, w, dy] = [inShape, wShape, outShape].map((s) => rng.uniform(size(s)));
    const ref = convReference(x, w, dy);
    const [xt, wt, dyt] = [
      Tensor.from(x, inShape, 'cpu'),
      Tensor.from(w, wShape, 'cpu'),
      Tensor.from(dy, outShape, 'cpu'),
    ].map((t) => scope.keep(t));
    const [y, dx, dw] = [outShape, inShape, wShape].map((s) => scope.keep(Tensor.zeros(s, 'cpu')));
    plan.forward(xt, wt, y);
    plan.backwardData(wt, dyt, dx);
    plan.backwardFilter(xt, dyt, dw);
    const { kernel, groups, outChannels } = CONV;
    const [, , oh, ow] = ref.outShape;
    return [
      compare(
        'cpu conv forward vs float64',
        y.toArray(),
        ref.y,
        accumulation(size(wShape.slice(1))),
      ),
      compare(
        'cpu conv backward data vs float64',
        dx.toArray(),
        ref.dx,
        accumulation((outChannels / groups) * kernel * kernel),
      ),
      compare(
        'cpu conv backward filter vs float64',
        dw.toArray(),
        ref.dw,
        accumulation(CONV.batch * oh * ow),
      ),
    ];
  });
}

/** C = 0.5 op(A) op(B) + 0.25 C against float64, for one transpose setting. */
function checkGemm(rng: Rng, transA: boolean, transB: boolean): Promise<CheckResult[]> {
  return scoped((scope) => {
    const [m, n, k] = [37, 29, 131];
    const [a, b, c0] = [rng.uniform(m * k), rng.uniform(k * n), rng.uniform(m * n)];
    const at = (i: number, p: number) => (transA ? a[p * m + i] : a[i * k + p]);
    const bt = (p: number, j: number) => (transB ? b[j * k + p] : b[p * n + j]);
    const expected = new Float64Array(m * n);
    for (let i = 0; i < m; ++i)
      for (let j = 0; j < n; ++j) {
        let sum = 0;
        for (let p = 0; p < k; ++p) sum += at(i, p) * bt(p, j);
        expected[i * n + j] = 0.5 * sum + 0.25 * c0[i * n + j];
      }
    const ta = scope.keep(Tensor.from(a, transA ? [k, m] : [m, k], 'cpu'));
    const tb = scope.keep(Tensor.from(b, transB ? [n, k] : [k, n], 'cpu'));
    const tc = scope.keep(Tensor.from(c0, [m, n], 'cpu'));
    gemm(ta, tb, tc, { transA, transB, alpha: 0.5, beta: 0.25 });
    const label = `cpu gemm transA=${transA} transB=${transB} vs float64`;
    return [compare(label, tc.toArray(), expected, accumulation(k))];
  });
}

/** LRN forward (bvlc's constants) and max-pool 3/2 forward against float64. */
function checkLrnPool(rng: Rng): Promise<CheckResult[]> {
  return scoped((scope) => {
    const [n, c, h, w] = [2, 7, 9, 9];
    const x = rng.uniform(n * c * h * w, 0, 100);
    const xt = scope.keep(Tensor.from(x, [n, c, h, w], 'cpu'));
    const lrn = scope.keep(
      new LrnPlan([n, c, h, w], { size: 5, alpha: 1e-4, beta: 0.75, k: 1 }, 'cpu'),
    );
    const pool = scope.keep(new MaxPoolPlan([n, c, h, w], { kernel: 3, stride: 2 }, 'cpu'));
    const y = scope.keep(Tensor.zeros([n, c, h, w], 'cpu'));
    const p = scope.keep(Tensor.zeros(pool.outputShape, 'cpu'));
    lrn.forward(xt, y);
    pool.forward(xt, p);
    const plane = h * w;
    const lrnRef = new Float64Array(x.length);
    for (let i = 0; i < x.length; ++i) {
      const ch = Math.floor(i / plane) % c;
      let sum = 0;
      for (let d = Math.max(0, ch - 2); d <= Math.min(c - 1, ch + 2); ++d) {
        sum += x[i + (d - ch) * plane] ** 2;
      }
      lrnRef[i] = x[i] / (1 + (1e-4 / 5) * sum) ** 0.75;
    }
    const [oh, ow] = [pool.outputShape[2], pool.outputShape[3]];
    const poolRef = new Float64Array(n * c * oh * ow).map((_, o) => {
      const [plane0, oy, ox] = [Math.floor(o / (oh * ow)), Math.floor(o / ow) % oh, o % ow];
      let best = Number.NEGATIVE_INFINITY;
      for (let ky = 0; ky < 3; ++ky)
        for (let kx = 0; kx < 3; ++kx)
          best = Math.max(best, x[plane0 * plane + (oy * 2 + ky) * w + ox * 2 + kx]);
      return best;
    });
    return [
      compare('cpu lrn forward vs float64', y.toArray(), lrnRef, { rtol: 1e-5, atol: 1e-6 }),
      compare('cpu max-pool forward vs float64', p.toArray(), poolRef, EXACT),
    ];
  });
}

/** Mean softmax cross-entropy and its gradient against float64. */
function checkLoss(rng: Rng): Promise<CheckResult[]> {
  return scoped((scope) => {
    const [n, classes] = [5, 100];
    const z = rng.uniform(n * classes, -8, 8);
    const labels = rng.int(n, classes);
    const grad = new Float64Array(z.length);
    let loss = 0;
    for (let r = 0; r < n; ++r) {
      const row = z.subarray(r * classes, (r + 1) * classes);
      const max = Math.max(...row);
      const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
      loss += (Math.log(sum) + max - row[labels[r]]) / n;
      row.forEach((v, j) => {
        grad[r * classes + j] = (Math.exp(v - max) / sum - (j === labels[r] ? 1 : 0)) / n;
      });
    }
    const zt = scope.keep(Tensor.from(z, [n, classes], 'cpu'));
    const dz = scope.keep(Tensor.zeros([n, classes], 'cpu'));
    const got = softmaxCrossEntropy(zt, labels, dz);
    // float32 exp and log of 100 terms per row: a few ulps of the loss, relative.
    return [
      compare('cpu softmax xent loss vs float64', [got], [loss], { rtol: 1e-5, atol: 0 }),
      compare('cpu softmax xent gradient vs float64', dz.toArray(), grad, {
        rtol: 1e-5,
        atol: 1e-7,
      }),
    ];
  });
}

/** Every check of the CPU backend against float64, with inputs drawn from `rng`. */
export async function runCpuChecks(rng: Rng): Promise<CheckResult[]> {
  const checks: [string, () => Promise<CheckResult[]>][] = [
    ['cpu conv', () => checkConv(rng)],
    ...[
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ].map(([a, b]): [string, () => Promise<CheckResult[]>] => [
      `cpu gemm transA=${a} transB=${b}`,
      () => checkGemm(rng, a, b),
    ]),
    ['cpu lrn and max-pool', () => checkLrnPool(rng)],
    ['cpu softmax xent', () => checkLoss(rng)],
  ];
  const results: CheckResult[] = [];
  for (const [name, check] of checks) results.push(...(await guarded(name, check)));
  return results;
}
