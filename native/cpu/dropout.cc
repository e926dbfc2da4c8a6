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
  // One Philox call covers four consecutive mask elements, so chunks are whole groups of four,
  // counted from the group holding the tensor's first element.
  const int64_t first = static_cast<int64_t>(key.offset / 4);
  const int64_t groups = static_cast<int64_t>((key.offset + n + 3) / 4) - first;
  const int64_t offset = static_cast<int64_t>(key.offset);
  ParallelFor(groups, 1 << 12, [&](int64_t begin, int64_t end) {
    float u[4];
    for (int64_t g = first + begin; g < first + end; ++g) {
      PhiloxUniform4(key.seed, key.layer, key.step, static_cast<uint64_t>(g), u);
      const int64_t lo = std::max<int64_t>(g * 4, offset) - offset;
      const int64_t hi = std::min<int64_t>(g * 4 + 4, offset + n) - offset;
      for (int64_t i = lo; i < hi; ++i) {
        out[i] = u[(i + offset) & 3] >= key.p ? in[i] * scale : 0.0f;
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
