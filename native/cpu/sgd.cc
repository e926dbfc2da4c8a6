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
      float vi = momentum * v[i] + (g[i] + weight_decay * w[i]);
      v[i] = vi;
      w[i] -= lr * vi;
    }
  });
}

}  // namespace alexnet::cpu
