// The CPU backend's LRN (lrn.h): splits a tensor into runs of positions for the threads, walks
// each run's channels, and calls the row kernels of the CPU's instruction set (lrn_kernel.h) on
// each channel's window of rows.
#include "cpu/lrn.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/lrn_kernel.h"
#include "cpu/pool.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// A work item is a run of positions of one image; the loops run over channels outside and over
// those positions inside, so every row kernel reads contiguous memory. The longer a run, the
// better the hardware prefetchers follow each channel's row (measured with
// scripts/bench/lrn_cpu_time.cc: whole planes of norm1 and norm2 beat runs of 256 positions), so
// runs are whole planes of up to kMaxRun positions, split further only to give the threads at
// least kMinItems items, and never below kMinRun positions. The split depends on the shape
// alone, and each position's result on its channels alone, so the result does not depend on the
// thread count.
constexpr int64_t kMaxRun = 4096;
constexpr int64_t kMinRun = 128;
constexpr int64_t kMinItems = 16;

// The widest window lib/ops/lrn.ts accepts: the largest odd size cuDNN allows
// (CUDNN_LRN_MAX_N = 16 in cudnn.h).
constexpr int kMaxSize = 15;
static_assert(kMaxSize == 2 * LrnKernel::kSizes - 1);

// The row standing for a channel outside [0, C) in a window.
constexpr float kZeros[kMaxRun] = {};

// The kernels of the GEMM's instruction set (gemm.cc picks it from the CPU, or
// ALEXNET_GEMM_ISA), so that forcing a lesser one for tests forces all three.
const LrnKernel& SelectKernel() {
  const std::string_view isa = GemmIsa();
#if defined(ALEXNET_GEMM_X86)
  if (isa == "avx512") return lrn_avx512::kKernel;
  if (isa == "avx2") return lrn_avx2::kKernel;
#endif
  return lrn_generic::kKernel;
}

const LrnKernel& Kernel() {
  static const LrnKernel& kernel = SelectKernel();
  return kernel;
}

// The positions per run: whole planes of up to kMaxRun positions, split further while the items
// are fewer than kMinItems and the runs longer than kMinRun; a multiple of 16 (64 bytes).
int64_t RunLength(const LrnShape& s, int64_t hw) {
  int64_t runs = (hw + kMaxRun - 1) / kMaxRun;
  const int64_t most = std::max<int64_t>(1, hw / kMinRun);
  while (s.n * runs < kMinItems && runs < most) ++runs;
  return ((hw + runs - 1) / runs + 15) / 16 * 16;
}

// Calls body(offset, len) for every work item, in parallel: the positions [start, start + len)
// of one image, whose channel 0 is at `offset` in the tensor; len is at most run.
template <typename Body>
void ForEachRun(const LrnShape& s, int64_t run, const Body& body) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const int64_t runs = (hw + run - 1) / run;
  ParallelForBalanced(s.n * runs, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t image = item / runs;
      const int64_t start = item % runs * run;
      body(image * s.c * hw + start, std::min(run, hw - start));
    }
  });
}

// window[i] = the row of channel c - size/2 + i, where rows[c'] is that of channel c' in
// [0, C), or zeros.
template <typename Row>
void Window(const LrnShape& s, int c, const Row& rows, const float** window) {
  for (int i = 0; i < s.size; ++i) {
    const int channel = c - s.size / 2 + i;
    window[i] = channel >= 0 && channel < s.c ? rows(channel) : kZeros;
  }
}

LrnConstants Constants(const LrnShape& s) { return {s.k, s.alpha / s.size, s.beta}; }

}  // namespace

void LrnForward(const LrnShape& s, const float* x, float* y) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const LrnForwardFn forward = Kernel().forward[s.size / 2];
  const LrnConstants p = Constants(s);
  ForEachRun(s, RunLength(s, hw), [&](int64_t offset, int64_t len) {
    const auto x_row = [&](int channel) { return x + offset + channel * hw; };
    const float* window[kMaxSize];
    for (int c = 0; c < s.c; ++c) {
      Window(s, c, x_row, window);
      forward(window, len, p, y + offset + c * hw);
    }
  });
}

// A work item is one channel of one image: its LRN in a thread's plane buffer, in runs of up to
// kMaxRun positions (kZeros' length), then pooled from there. Each position's LRN is computed as
// LrnForward computes it, whatever the runs, so the result is the same bits.
void LrnMaxPoolForward(const LrnShape& s, const PoolShape& pool, const float* x, float* y) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const int64_t pooled = static_cast<int64_t>(pool.oh) * pool.ow;
  const LrnForwardFn forward = Kernel().forward[s.size / 2];
  const LrnConstants p = Constants(s);
  ParallelForBalanced(static_cast<int64_t>(s.n) * s.c, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> plane;
    plane.resize(static_cast<size_t>(hw));
    for (int64_t item = begin; item < end; ++item) {
      const float* image = x + item / s.c * s.c * hw;
      const int c = static_cast<int>(item % s.c);
      for (int64_t start = 0; start < hw; start += kMaxRun) {
        const auto x_row = [&](int channel) { return image + channel * hw + start; };
        const float* window[kMaxSize];
        Window(s, c, x_row, window);
        forward(window, std::min(kMaxRun, hw - start), p, plane.data() + start);
      }
      MaxPoolPlane(pool, plane.data(), y + item * pooled);
    }
  });
}

// Step t computes channel t's ratio and own term into rings of the last `size` channels, then
// dx of channel t - size/2, whose window of ratios ends at channel t. dx_c is written after
// dy and y of channels up to c + size/2 have been read and before any later channel's are, so
// dx may be dy or y.
void LrnBackward(const LrnShape& s, const float* x, const float* y, const float* dy, float* dx) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const int half = s.size / 2;
  const LrnKernel& kernel = Kernel();
  const LrnRatioFn ratio = kernel.ratio[half];
  const LrnGradientFn gradient = kernel.gradient[half];
  const LrnConstants p = Constants(s);
  const float coefficient = 2.0f * s.alpha * s.beta / s.size;
  const int64_t run = RunLength(s, hw);
  ForEachRun(s, run, [&](int64_t offset, int64_t len) {
    // Rings of the ratios and own terms of the last `size` channels, kept per thread.
    thread_local std::vector<float> rings;
    rings.resize(std::max(rings.size(), static_cast<size_t>(2 * s.size * run)));
    float* ratios = rings.data();
    float* firsts = ratios + s.size * run;
    const auto x_row = [&](int channel) { return x + offset + channel * hw; };
    const auto ratio_row = [&](int channel) { return ratios + channel % s.size * run; };
    const float* window[kMaxSize];
    for (int t = 0; t < s.c + half; ++t) {
      if (t < s.c) {
        Window(s, t, x_row, window);
        ratio(window, y + offset + t * hw, dy + offset + t * hw, len, p, ratios + t % s.size * run,
              firsts + t % s.size * run);
      }
      const int c = t - half;
      if (c >= 0) {
        Window(s, c, ratio_row, window);
        gradient(window, firsts + c % s.size * run, x_row(c), len, coefficient,
                 dx + offset + c * hw);
      }
    }
  });
}

}  // namespace alexnet::cpu
