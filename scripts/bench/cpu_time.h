// What the hand-built CPU-time harnesses (conv_cpu_time.cc, fc_cpu_time.cc, lrn_cpu_time.cc,
// pool_cpu_time.cc) share: the calling thread's CPU time, which other tenants of a shared machine
// inflate far less than wall-clock time, the median of 5 timed calls after a warm-up one, and
// deterministic inputs.
#pragma once

#include <time.h>

#include <algorithm>
#include <vector>

inline double ThreadMilliseconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Deterministic values in [-scale, scale].
inline std::vector<float> Values(size_t count, size_t seed, float scale) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = scale * ((i * seed % 1000) / 500.0f - 1.0f);
  return values;
}

template <typename Pass>
double MedianMilliseconds(const Pass& pass) {
  pass();
  std::vector<double> times;
  for (int r = 0; r < 5; ++r) {
    const double start = ThreadMilliseconds();
    pass();
    times.push_back(ThreadMilliseconds() - start);
  }
  std::sort(times.begin(), times.end());
  return times[2];
}
