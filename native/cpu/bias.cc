#include "cpu/bias.h"

#include <algorithm>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// A parallel region wakes the other thread (microseconds), which pays only above a few thousand
// floats of work.
constexpr int64_t kMinFloatsPerChunk = 4096;

int64_t MinChunk(int64_t floats_per_item) {
  return std::max<int64_t>(1, kMinFloatsPerChunk / std::max<int64_t>(1, floats_per_item));
}

// Sum of `count` floats in 16 interleaved float accumulators, which the compiler turns into
// vector adds (a single accumulator is a serial dependency chain it may not reorder), each
// rounding over only count / 16 terms; the lanes are then added in double.
double SumRow(const float* x, int64_t count) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += x[i + j];
  }
  double total = 0.0;
  for (; i < count; ++i) total += x[i];
  for (int j = 0; j < kLanes; ++j) total += lanes[j];
  return total;
}

}  // namespace

void BiasForward(int64_t n, int64_t c, int64_t spatial, float* y, const float* b) {
  ParallelFor(n * c, MinChunk(spatial), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float value = b[row % c];
      float* out = y + row * spatial;
      for (int64_t s = 0; s < spatial; ++s) out[s] += value;
    }
  });
}

void BiasBackward(int64_t n, int64_t c, int64_t spatial, const float* dy, float* db) {
  ParallelFor(c, MinChunk(n * spatial), [&](int64_t begin, int64_t end) {
    for (int64_t channel = begin; channel < end; ++channel) {
      double total = 0.0;
      for (int64_t i = 0; i < n; ++i) total += SumRow(dy + (i * c + channel) * spatial, spatial);
      db[channel] = static_cast<float>(total);
    }
  });
}

void ReluBiasBackward(int64_t n, int64_t c, int64_t spatial, const float* y, float* dy, float* db) {
  ParallelFor(c, MinChunk(n * spatial), [&](int64_t begin, int64_t end) {
    for (int64_t channel = begin; channel < end; ++channel) {
      double total = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t offset = (i * c + channel) * spatial;
        float* row = dy + offset;
        const float* out = y + offset;
        // As ReluBackward: both loads unconditional, so GCC vectorises a blend.
        for (int64_t s = 0; s < spatial; ++s) {
          const float g = row[s];
          row[s] = out[s] > 0.0f ? g : 0.0f;
        }
        if (db) total += SumRow(row, spatial);
      }
      if (db) db[channel] = static_cast<float>(total);
    }
  });
}

}  // namespace alexnet::cpu
