// Compiled with -ffp-contract=off (sources.json "cpu_exact"; CMakeLists.txt, binding.gyp): every
// product and sum of cpu/adam.h's AdamElement and ComputeAdamScalars is rounded on its own, as
// the CUDA kernel (native/cuda/adam.cu) rounds them with __fmul_rn and friends, so the two
// backends agree bitwise.
#include "cpu/adam.h"

#include <cmath>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

template <bool kDecoupled, bool kSmallLerp>
void UpdateAll(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamScalars& k) {
  // Memory-bound (seven floats read or written per element): a second thread pays off on large
  // layers only, as in sgd.cc.
  ParallelFor(n, 1 << 16, [=](int64_t begin, int64_t end) {
    float* __restrict w = param;
    const float* __restrict g = grad;
    float* __restrict m = exp_avg;
    float* __restrict v = exp_avg_sq;
    for (int64_t i = begin; i < end; ++i) AdamElement<kDecoupled, kSmallLerp>(w, g, m, v, i, k);
  });
}

}  // namespace

void AdamUpdate(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* step,
                int64_t n, const AdamSettings& settings, const float* guard) {
  if (guard != nullptr && !std::isfinite(*guard)) return;
  const float t = *step + 1.0f;
  const AdamScalars k = ComputeAdamScalars(settings, static_cast<int64_t>(t));
  const bool small_lerp = k.one_minus_beta1 < 0.5f;
  if (settings.decoupled) {
    if (small_lerp)
      UpdateAll<true, true>(param, grad, exp_avg, exp_avg_sq, n, k);
    else
      UpdateAll<true, false>(param, grad, exp_avg, exp_avg_sq, n, k);
  } else {
    if (small_lerp)
      UpdateAll<false, true>(param, grad, exp_avg, exp_avg_sq, n, k);
    else
      UpdateAll<false, false>(param, grad, exp_avg, exp_avg_sq, n, k);
  }
  *step = t;
}

}  // namespace alexnet::cpu
