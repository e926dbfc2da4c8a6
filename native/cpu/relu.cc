#include "cpu/relu.h"

#include <algorithm>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// Below 64 Ki elements (tens of microseconds) waking the second thread costs more than it saves.
constexpr int64_t kMinChunk = int64_t{1} << 16;

}  // namespace

void ReluForward(const float* x, float* y, int64_t count) {
  ParallelFor(count, kMinChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = std::max(x[i], 0.0f);
  });
}

void ReluBackward(const float* y, const float* dy, float* dx, int64_t count) {
  ParallelFor(count, kMinChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  });
}

}  // namespace alexnet::cpu
