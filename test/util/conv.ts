/**
 * float64 reference convolution for the tests: the definition of Caffe's and cuDNN's
 * cross-correlation with groups (x NCHW, w OIHW as (K, C / groups, kh, kw)), written as plain
 * loops, and the finite-difference gradients of L = sum(r * conv(x, w)) built on it.
 */
import type { ConvShape } from '../../lib';
import { centralDifference } from './gradient';

export interface ConvDims {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  groups: number;
}

/** A ConvPlan's shape as the references take it. */
export function dimsOf(shape: ConvShape): ConvDims {
  const pair = (v: number | [number, number]): [number, number] =>
    typeof v === 'number' ? [v, v] : v;
  const [kh, kw] = pair(shape.kernel);
  const [strideH, strideW] = pair(shape.stride ?? 1);
  const [padH, padW] = pair(shape.pad ?? 0);
  return {
    n: shape.batch,
    c: shape.inChannels,
    h: shape.height,
    w: shape.width,
    k: shape.outChannels,
    kh,
    kw,
    strideH,
    strideW,
    padH,
    padW,
    groups: shape.groups ?? 1,
  };
}

export function outputSize(s: ConvDims): [number, number] {
  return [
    Math.floor((s.h + 2 * s.padH - s.kh) / s.strideH) + 1,
    Math.floor((s.w + 2 * s.padW - s.kw) / s.strideW) + 1,
  ];
}

/** Outputs [n0, n1) x channels [k0, k1) x rows [i0, i1) x columns [j0, j1). */
interface Window {
  n0: number;
  n1: number;
  k0: number;
  k1: number;
  i0: number;
  i1: number;
  j0: number;
  j1: number;
}

/**
 * The outputs [lo[t], hi[t]) of a window [from, to) at which tap t of a filter reads inside the
 * input, i.e. o * stride - pad + t in [0, size); the others read the zero padding.
 */
function tapRanges(
  taps: number,
  size: number,
  stride: number,
  pad: number,
  from: number,
  to: number,
): [Int32Array, Int32Array] {
  const lo = new Int32Array(taps);
  const hi = new Int32Array(taps);
  for (let t = 0; t < taps; ++t) {
    lo[t] = Math.max(from, Math.ceil((pad - t) / stride));
    hi[t] = Math.min(to, Math.floor((size - 1 + pad - t) / stride) + 1);
  }
  return [lo, hi];
}

/**
 * Adds y[image, channel, i0:i1, j0:j1] of y = conv(x, weights) into acc, row-major over the
 * window. Loops run tap by tap, so the innermost one walks a row of x. The hot loops touch only
 * typed arrays and locals: under jest, code runs in a vm context where each lookup of a global
 * such as Math goes through an interceptor, which made them dozens of times slower than in node.
 */
function accumulate(
  x: Float64Array,
  weights: Float64Array,
  s: ConvDims,
  image: number,
  channel: number,
  win: Window,
  acc: Float64Array,
): void {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW } = s;
  const cg = c / s.groups;
  const group = Math.floor(channel / (s.k / s.groups));
  const cols = win.j1 - win.j0;
  const [rowLo, rowHi] = tapRanges(kh, h, strideH, padH, win.i0, win.i1);
  const [colLo, colHi] = tapRanges(kw, w, strideW, padW, win.j0, win.j1);
  for (let ci = 0; ci < cg; ++ci) {
    const plane = (image * c + group * cg + ci) * h * w;
    const filter = (channel * cg + ci) * kh * kw;
    for (let ki = 0; ki < kh; ++ki) {
      for (let kj = 0; kj < kw; ++kj) {
        const wv = weights[filter + ki * kw + kj];
        const j0 = colLo[kj];
        const j1 = colHi[kj];
        for (let oi = rowLo[ki]; oi < rowHi[ki]; ++oi) {
          const base = plane + (oi * strideH - padH + ki) * w + kj - padW;
          const row = (oi - win.i0) * cols - win.j0;
          for (let oj = j0; oj < j1; ++oj) acc[row + oj] += wv * x[base + oj * strideW];
        }
      }
    }
  }
}

/** y = conv(x, w) in float64, shape (n, k, outH, outW). */
export function convForward(x: ArrayLike<number>, w: ArrayLike<number>, s: ConvDims): Float64Array {
  const x64 = Float64Array.from(x);
  const w64 = Float64Array.from(w);
  const [oh, ow] = outputSize(s);
  const y = new Float64Array(s.n * s.k * oh * ow);
  const win = { n0: 0, n1: s.n, k0: 0, k1: s.k, i0: 0, i1: oh, j0: 0, j1: ow };
  for (let image = 0; image < s.n; ++image) {
    for (let channel = 0; channel < s.k; ++channel) {
      const offset = (image * s.k + channel) * oh * ow;
      accumulate(x64, w64, s, image, channel, win, y.subarray(offset, offset + oh * ow));
    }
  }
  return y;
}

/**
 * sum(r * conv(x, w)) over a window of outputs. A perturbation of one input or weight changes
 * only the outputs in its window, so the terms outside cancel exactly in the central difference;
 * leaving them out gives the same derivative without their rounding, and keeps AlexNet's shapes
 * fast.
 */
function windowLoss(
  x: Float64Array,
  w: Float64Array,
  s: ConvDims,
  r: ArrayLike<number>,
  win: Window,
): number {
  const [oh, ow] = outputSize(s);
  const rows = win.i1 - win.i0;
  const cols = win.j1 - win.j0;
  const acc = new Float64Array(rows * cols);
  let total = 0;
  for (let image = win.n0; image < win.n1; ++image) {
    for (let channel = win.k0; channel < win.k1; ++channel) {
      acc.fill(0);
      accumulate(x, w, s, image, channel, win, acc);
      for (let i = 0; i < rows; ++i) {
        const base = ((image * s.k + channel) * oh + win.i0 + i) * ow + win.j0;
        for (let j = 0; j < cols; ++j) total += r[base + j] * acc[i * cols + j];
      }
    }
  }
  return total;
}

/** The outputs [lo, hi) whose window of `kernel` inputs contains input i. */
function readers(
  i: number,
  out: number,
  kernel: number,
  stride: number,
  pad: number,
): [number, number] {
  const lo = Math.max(0, Math.ceil((i + pad - kernel + 1) / stride));
  return [lo, Math.max(lo, Math.min(out, Math.floor((i + pad) / stride) + 1))];
}

/** dL/dx[index] for L = sum(r * conv(x, w)), by central differences. */
export function inputGradientFd(
  x: Float64Array,
  w: Float64Array,
  s: ConvDims,
  r: ArrayLike<number>,
  index: number,
): number {
  const [oh, ow] = outputSize(s);
  const iw = index % s.w;
  const ih = Math.floor(index / s.w) % s.h;
  const channel = Math.floor(index / (s.h * s.w)) % s.c;
  const image = Math.floor(index / (s.c * s.h * s.w));
  const kg = s.k / s.groups;
  const group = Math.floor(channel / (s.c / s.groups));
  // Outputs o with o * stride - pad <= i < o * stride - pad + kernel read input i; the range is
  // empty for an input that falls between taps (stride > kernel), whose derivative is then 0.
  const [i0, i1] = readers(ih, oh, s.kh, s.strideH, s.padH);
  const [j0, j1] = readers(iw, ow, s.kw, s.strideW, s.padW);
  const win = { n0: image, n1: image + 1, k0: group * kg, k1: (group + 1) * kg, i0, i1, j0, j1 };
  return centralDifference(x, index, () => windowLoss(x, w, s, r, win));
}

/** dL/dw[index] for L = sum(r * conv(x, w)), by central differences. */
export function weightGradientFd(
  x: Float64Array,
  w: Float64Array,
  s: ConvDims,
  r: ArrayLike<number>,
  index: number,
): number {
  const [oh, ow] = outputSize(s);
  const channel = Math.floor(index / ((s.c / s.groups) * s.kh * s.kw));
  const win = { n0: 0, n1: s.n, k0: channel, k1: channel + 1, i0: 0, i1: oh, j0: 0, j1: ow };
  return centralDifference(w, index, () => windowLoss(x, w, s, r, win));
}

/**
 * dx = the adjoint of conv(., w) applied to dy, in float64, shape (n, c, h, w): each output's
 * gradient scattered back onto the inputs its taps read.
 */
export function convBackwardData(
  dy: ArrayLike<number>,
  weights: ArrayLike<number>,
  s: ConvDims,
): Float64Array {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW } = s;
  const [oh, ow] = outputSize(s);
  const cg = c / s.groups;
  const kg = s.k / s.groups;
  const dy64 = Float64Array.from(dy);
  const w64 = Float64Array.from(weights);
  const dx = new Float64Array(s.n * c * h * w);
  const [rowLo, rowHi] = tapRanges(kh, h, strideH, padH, 0, oh);
  const [colLo, colHi] = tapRanges(kw, w, strideW, padW, 0, ow);
  for (let image = 0; image < s.n; ++image) {
    for (let channel = 0; channel < s.k; ++channel) {
      const group = Math.floor(channel / kg);
      const out = (image * s.k + channel) * oh * ow;
      for (let ci = 0; ci < cg; ++ci) {
        const plane = (image * c + group * cg + ci) * h * w;
        const filter = (channel * cg + ci) * kh * kw;
        for (let ki = 0; ki < kh; ++ki) {
          for (let kj = 0; kj < kw; ++kj) {
            const wv = w64[filter + ki * kw + kj];
            for (let oi = rowLo[ki]; oi < rowHi[ki]; ++oi) {
              const base = plane + (oi * strideH - padH + ki) * w + kj - padW;
              const row = out + oi * ow;
              for (let oj = colLo[kj]; oj < colHi[kj]; ++oj) {
                dx[base + oj * strideW] += wv * dy64[row + oj];
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** dw = the gradient of sum(dy * conv(x, w)) in w, in float64, shape (k, c / groups, kh, kw). */
export function convBackwardFilter(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: ConvDims,
): Float64Array {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW } = s;
  const [oh, ow] = outputSize(s);
  const cg = c / s.groups;
  const kg = s.k / s.groups;
  const x64 = Float64Array.from(x);
  const dy64 = Float64Array.from(dy);
  const dw = new Float64Array(s.k * cg * kh * kw);
  const [rowLo, rowHi] = tapRanges(kh, h, strideH, padH, 0, oh);
  const [colLo, colHi] = tapRanges(kw, w, strideW, padW, 0, ow);
  for (let image = 0; image < s.n; ++image) {
    for (let channel = 0; channel < s.k; ++channel) {
      const group = Math.floor(channel / kg);
      const out = (image * s.k + channel) * oh * ow;
      for (let ci = 0; ci < cg; ++ci) {
        const plane = (image * c + group * cg + ci) * h * w;
        const filter = (channel * cg + ci) * kh * kw;
        for (let ki = 0; ki < kh; ++ki) {
          for (let kj = 0; kj < kw; ++kj) {
            let sum = 0;
            for (let oi = rowLo[ki]; oi < rowHi[ki]; ++oi) {
              const base = plane + (oi * strideH - padH + ki) * w + kj - padW;
              const row = out + oi * ow;
              for (let oj = colLo[kj]; oj < colHi[kj]; ++oj) {
                sum += x64[base + oj * strideW] * dy64[row + oj];
              }
            }
            dw[filter + ki * kw + kj] += sum;
          }
        }
      }
    }
  }
  return dw;
}

/**
 * y + bias[channel] rounded to float32 (Math.fround of the exact double sum of two floats is the
 * float32 sum), then max(., 0) as std::max(v, 0.0f) takes it: what cpu::BiasForward and
 * cpu::ReluForward compute, and so what a convolution's fused epilogue must give from its y.
 */
export function biasReluReference(y: Float32Array, bias: Float32Array, s: ConvDims): Float32Array {
  const plane = y.length / (s.n * s.k);
  return y.map((v, i) => {
    const sum = Math.fround(v + bias[Math.floor(i / plane) % s.k]);
    // biome-ignore lint/complexity/useMathMinMax: Math.max(-0, 0) is 0, std::max(-0.0f, 0.0f) -0.
    return sum < 0 ? 0 : sum;
  });
}

/** The bvlc AlexNet's convolutions at batch 1 (227 input; groups 2 as in Caffe's two-GPU split). */
export const BVLC_CONVS: Record<'conv1' | 'conv2' | 'conv3' | 'conv4' | 'conv5', ConvShape> = {
  conv1: {
    batch: 1,
    inChannels: 3,
    height: 227,
    width: 227,
    outChannels: 96,
    kernel: 11,
    stride: 4,
  },
  conv2: {
    batch: 1,
    inChannels: 96,
    height: 27,
    width: 27,
    outChannels: 256,
    kernel: 5,
    pad: 2,
    groups: 2,
  },
  conv3: { batch: 1, inChannels: 256, height: 13, width: 13, outChannels: 384, kernel: 3, pad: 1 },
  conv4: {
    batch: 1,
    inChannels: 384,
    height: 13,
    width: 13,
    outChannels: 384,
    kernel: 3,
    pad: 1,
    groups: 2,
  },
  conv5: {
    batch: 1,
    inChannels: 384,
    height: 13,
    width: 13,
    outChannels: 256,
    kernel: 3,
    pad: 1,
    groups: 2,
  },
};
