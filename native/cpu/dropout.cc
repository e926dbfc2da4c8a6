#include "cpu/dropout.h"

#include <algorithm>
#include <cstring>

#include "core/philox.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// Forward and backward are the same map: out = in * mask / (1 - p).
void ApplyMask(const float* in, float* out, int64_t n, const DropoutKey& key) {
  if (key.p == 0.0f) {
    if (in != out) std::memcpy(out, in, n * sizeof(float));
    return;
  }
  // The reciprocal is taken once, in float: a backend that multiplies by the same float scale
  // gets bitwise the same outputs.
  const float scale = 1.0f / (1.0f - key.p);
  // One Philox call covers four consecutive elements, so chunks are whole groups of four.
  const int64_t groups = (n + 3) / 4;
  ParallelFor(groups, 1 << 12, [&](int64_t begin, int64_t end) {
    float u[4];
    for (int64_t g = begin; g < end; ++g) {
      PhiloxUniform4(key.seed, key.layer, key.step, static_cast<uint64_t>(g), u);
      int64_t base = g * 4;
      int64_t count = std::min<int64_t>(4, n - base);
      for (int64_t j = 0; j < count; ++j) {
        out[base + j] = u[j] >= key.p ? in[base + j] * scale : 0.0f;
      }
    }
  });
}

}  // namespace

void DropoutForward(const float* x, float* y, int64_t n, const DropoutKey& key) {
  ApplyMask(x, y, n, key);
}

void DropoutBackward(const float* dy, float* dx, int64_t n, const DropoutKey& key) {
  ApplyMask(dy, dx, n, key);
}

}  // namespace alexnet::cpu
