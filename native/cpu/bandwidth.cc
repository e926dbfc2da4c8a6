#include "cpu/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/host_memory.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// 256 MiB: 8 times the largest L3 the development VMs report (32 MiB), so a run reads memory.
constexpr int64_t kFloats = int64_t{64} << 20;

// Sum of `count` floats in 16 independent accumulators, which the compiler turns into vector
// adds: the loop issues loads as fast as the core can, so memory, not the adds, bounds it.
float SumStream(const float* x, int64_t count) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  for (int64_t i = 0; i + kLanes <= count; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += x[i + j];
  }
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  return total;
}

}  // namespace

double MeasureReadBandwidth() {
  // In the memory tensors get (huge pages where Linux gives them), as fc6-fc8's weights are; every
  // page written once before the timed reads.
  const size_t bytes = static_cast<size_t>(kFloats) * sizeof(float);
  float* const buffer = AllocateHost(bytes);
  std::fill(buffer, buffer + kFloats, 1.0f);
  const int threads = ThreadCount();
  std::vector<float> sums(static_cast<size_t>(threads));
  double best = 0.0;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    ParallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t begin = kFloats * t / threads;
        const int64_t end = kFloats * (t + 1) / threads;
        sums[static_cast<size_t>(t)] = SumStream(buffer + begin, end - begin);
      }
    });
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    best = std::max(best, static_cast<double>(kFloats) * sizeof(float) / seconds.count() / 1e9);
  }
  // The sums are used, so the reads cannot be optimised away: each is the buffer's length.
  float total = 0.0f;
  for (float s : sums) total += s;
  FreeHost(buffer, bytes);
  return total > 0.0f ? best : 0.0;
}

}  // namespace alexnet::cpu
