// Compiled with -ffp-contract=off (sources.json "cpu_exact"; CMakeLists.txt, binding.gyp): every
// product and sum of cpu/adam.h's AdamElement and ComputeAdamScalars is rounded on its own, as
// the CUDA kernel (native/cuda/adam.cu) rounds them with __fmul_rn and friends, so the two
// backends agree bitwise.
#include "cpu/adam.h"

#include <cmath>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

void AdamUpdate(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* step,
                int64_t n, const AdamSettings& settings, const float* guard) {
  if (guard != nullptr && !std::isfinite(*guard)) return;
  const float t = *step + 1.0f;
  const AdamScalars k = ComputeAdamScalars(settings, static_cast<int64_t>(t));
  const bool decoupled = settings.decoupled;
  // Memory-bound (seven floats read or written per element): a second thread pays off on large
  // layers only, as in sgd.cc.
  ParallelFor(n, 1 << 16, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      AdamElement(param, grad, exp_avg, exp_avg_sq, i, k, decoupled);
    }
  });
  *step = t;
}

}  // namespace alexnet::cpu
