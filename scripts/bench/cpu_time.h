// What the hand-built CPU-time harnesses (conv_cpu_time.cc, fc_cpu_time.cc, lrn_cpu_time.cc)
// share: the calling thread's CPU time, which other tenants of a shared machine inflate far less
// than wall-clock time, and the median of 5 timed calls after a warm-up one.
#pragma once

#include <time.h>

#include <algorithm>
#include <vector>

inline double ThreadMilliseconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
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
