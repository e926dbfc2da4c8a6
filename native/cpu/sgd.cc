// Compiled with -ffp-contract=off (sources.json "cpu_exact"; CMakeLists.txt,
// native/binding.gyp): each product and sum below is rounded to float on its own, in this order,
// exactly as the CUDA kernel (native/cuda/sgd.cu) does with __fmul_rn / __fadd_rn, so the two
// backends agree bitwise. A fused multiply-add on one side only would round momentum * v + g'
// once instead of twice.
#include "cpu/sgd.h"

#include <cmath>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, float weight_decay, const float* guard) {
  if (guard != nullptr && !std::isfinite(*guard)) return;
  // Memory-bound (five floats read or written per element), so a second thread only pays off
  // on large layers (fc6 has 38M weights); below 64K elements the hand-off costs more.
  ParallelFor(n, 1 << 16, [=](int64_t begin, int64_t end) {
    float* __restrict w = param;
    const float* __restrict g = grad;
    float* __restrict v = velocity;
    for (int64_t i = begin; i < end; ++i) {
      const float decayed = g[i] + weight_decay * w[i];
      const float vi = momentum * v[i] + decayed;
      v[i] = vi;
      w[i] = w[i] - lr * vi;
    }
  });
}

}  // namespace alexnet::cpu
