// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1) and
// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), in the form
// of PyTorch's torch.optim.Adam and torch.optim.AdamW (single-tensor path, amsgrad off;
// https://pytorch.org/docs/stable/generated/torch.optim.Adam.html):
//   t = step + 1
//   Adam:  g' = g + weight_decay * w          AdamW: w = w * (1 - lr * weight_decay), g' = g
//   m = lerp(m, g', 1 - beta1);   v = v * beta2 + (1 - beta2) * g' * g'
//   w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The scalars are computed in double and rounded to float once, as PyTorch does with its Python
// floats; each element operation is rounded to float on its own, in PyTorch's order.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ALEXNET_ADAM_HOST_DEVICE __host__ __device__
#else
#define ALEXNET_ADAM_HOST_DEVICE
#endif

namespace alexnet::cpu {

// The hyper-parameters of one update (decay 0 on biases: the caller decides).
struct AdamSettings {
  double lr;
  double beta1;
  double beta2;
  double eps;
  double weight_decay;
  // AdamW's decoupled decay instead of Adam's L2 term in the gradient.
  bool decoupled;
};

// The per-step scalars of the update, rounded to float.
struct AdamScalars {
  float decay_factor;     // AdamW: 1 - lr * weight_decay
  float weight_decay;     // Adam: the L2 coefficient
  float one_minus_beta1;  // lerp weight
  float beta2;
  float one_minus_beta2;
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float eps;
};

namespace adam_detail {

// Products and differences rounded on their own on both backends: nvcc would otherwise fuse
// 1 - x * y into one FMA, and the CPU file is compiled without contraction (sources.json
// "cpu_exact"), so the scalars, hence the updates, are bitwise the same on the CPU and CUDA.
ALEXNET_ADAM_HOST_DEVICE inline double Mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

ALEXNET_ADAM_HOST_DEVICE inline double Sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

// base^t for a whole t >= 1 by squaring: IEEE multiplications only, so both backends agree,
// where the C library's pow and CUDA's may differ in the last bit. Its error, a few ulps of a
// double, is far below float's rounding of the result.
ALEXNET_ADAM_HOST_DEVICE inline double PowWhole(double base, int64_t t) {
  double result = 1.0;
  while (t > 0) {
    if (t & 1) result = Mul(result, base);
    base = Mul(base, base);
    t >>= 1;
  }
  return result;
}

ALEXNET_ADAM_HOST_DEVICE inline float MulF(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

ALEXNET_ADAM_HOST_DEVICE inline float AddF(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

ALEXNET_ADAM_HOST_DEVICE inline float SubF(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

ALEXNET_ADAM_HOST_DEVICE inline float DivF(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

ALEXNET_ADAM_HOST_DEVICE inline float SqrtF(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

}  // namespace adam_detail

// The scalars of step t (t = the state's step + 1).
ALEXNET_ADAM_HOST_DEVICE inline AdamScalars ComputeAdamScalars(const AdamSettings& s, int64_t t) {
  using adam_detail::Mul;
  using adam_detail::Sub;
  const double bias_correction1 = Sub(1.0, adam_detail::PowWhole(s.beta1, t));
  const double bias_correction2 = Sub(1.0, adam_detail::PowWhole(s.beta2, t));
  AdamScalars out;
  out.decay_factor = static_cast<float>(Sub(1.0, Mul(s.lr, s.weight_decay)));
  out.weight_decay = static_cast<float>(s.weight_decay);
  out.one_minus_beta1 = static_cast<float>(Sub(1.0, s.beta1));
  out.beta2 = static_cast<float>(s.beta2);
  out.one_minus_beta2 = static_cast<float>(Sub(1.0, s.beta2));
  out.step_size = static_cast<float>(s.lr / bias_correction1);
  out.bias_correction2_sqrt = static_cast<float>(sqrt(bias_correction2));
  out.eps = static_cast<float>(s.eps);
  return out;
}

// The update of element i, in PyTorch's order of operations (lerp as at::lerp: the form for a
// weight under 0.5 when kSmallLerp, the one for a weight of 0.5 or more otherwise). The choices
// are template arguments so that the CPU's loop has no branch and vectorises.
template <bool kDecoupled, bool kSmallLerp>
ALEXNET_ADAM_HOST_DEVICE inline void AdamElement(float* w, const float* g, float* m, float* v,
                                                 int64_t i, const AdamScalars& k) {
  using namespace adam_detail;  // NOLINT: the rounding helpers above
  float wi = w[i];
  float gi = g[i];
  if (kDecoupled) {
    wi = MulF(wi, k.decay_factor);
  } else {
    gi = AddF(gi, MulF(k.weight_decay, wi));
  }
  const float diff = SubF(gi, m[i]);
  const float mi = kSmallLerp ? AddF(m[i], MulF(k.one_minus_beta1, diff))
                              : SubF(gi, MulF(diff, SubF(1.0f, k.one_minus_beta1)));
  const float vi = AddF(MulF(v[i], k.beta2), MulF(MulF(k.one_minus_beta2, gi), gi));
  const float denom = AddF(DivF(SqrtF(vi), k.bias_correction2_sqrt), k.eps);
  m[i] = mi;
  v[i] = vi;
  w[i] = AddF(wi, MulF(-k.step_size, DivF(mi, denom)));
}

// One step over n parameters, in place on `param`, `exp_avg`, `exp_avg_sq` and `step` (one
// float, the steps taken so far, as PyTorch's state["step"]). When `guard` is not null nothing
// changes unless *guard is finite: the loss of the batch, so that a step that diverged moves no
// weight, moment or step count without the host reading the loss first.
void AdamUpdate(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* step,
                int64_t n, const AdamSettings& settings, const float* guard);

}  // namespace alexnet::cpu
