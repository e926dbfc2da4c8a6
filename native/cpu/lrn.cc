#include "cpu/lrn.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// Spatial positions per work item. The loops run over channels outside and over these positions
// inside, so every inner loop is a contiguous run the compiler vectorises, and the per-item
// buffers (about 20 KiB at most) live on the stack and in L1.
constexpr int64_t kBlock = 256;

// The widest window lib/ops/lrn.ts accepts: the largest odd size cuDNN allows
// (CUDNN_LRN_MAX_N = 16 in cudnn.h).
constexpr int kMaxSize = 15;

// Calls body(offset, len) for every work item, in parallel: the positions [start, start + len)
// of one image, whose channel 0 is at `offset` in the tensor.
template <typename Body>
void ForEachBlock(const LrnShape& s, const Body& body) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const int64_t blocks = (hw + kBlock - 1) / kBlock;
  ParallelFor(s.n * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t image = item / blocks;
      const int64_t start = item % blocks * kBlock;
      body(image * s.c * hw + start, std::min(kBlock, hw - start));
    }
  });
}

// The window sums of squares are running sums over the channels, as in Caffe's lrn_layer:
// O(C) per position instead of O(C * size). They are kept in double because each one adds and
// then subtracts every square of the image: in float32 the cancellation leaves an error of up to
// C * 2^-24 times the largest window sum, which can dominate a scale whose k is small.

// sum = the squares of channels [0, size / 2): the window of channel -1, clipped.
void StartWindow(const LrnShape& s, const float* x, int64_t hw, int64_t len, double* sum) {
  std::fill(sum, sum + len, 0.0);
  for (int c = 0; c < std::min(s.size / 2, s.c); ++c) {
    const float* xc = x + c * hw;
    for (int64_t j = 0; j < len; ++j) sum[j] += static_cast<double>(xc[j]) * xc[j];
  }
}

// Moves sum from the window of channel c - 1 to that of channel c.
void SlideWindow(const LrnShape& s, const float* x, int c, int64_t hw, int64_t len, double* sum) {
  const int half = s.size / 2;
  if (c + half < s.c) {
    const float* added = x + (c + half) * hw;
    for (int64_t j = 0; j < len; ++j) sum[j] += static_cast<double>(added[j]) * added[j];
  }
  if (c - half - 1 >= 0) {
    const float* removed = x + (c - half - 1) * hw;
    for (int64_t j = 0; j < len; ++j) sum[j] -= static_cast<double>(removed[j]) * removed[j];
  }
}

// scale = k + (alpha / size) * sum and power = scale^(-beta).
void ScaleAndPower(const LrnShape& s, const double* sum, int64_t len, float* scale, float* power) {
  const double alpha_over_size = static_cast<double>(s.alpha) / s.size;
  for (int64_t j = 0; j < len; ++j) scale[j] = static_cast<float>(s.k + alpha_over_size * sum[j]);
  if (s.beta == 0.75f) {
    // AlexNet's beta (Krizhevsky et al. 2012 §3.3): scale^(-3/4) = 1 / (sqrt(s) * sqrt(sqrt(s)))
    // vectorises (sqrtps), where a powf call per element costs several times more.
    for (int64_t j = 0; j < len; ++j) {
      const float root = std::sqrt(scale[j]);
      power[j] = 1.0f / (root * std::sqrt(root));
    }
  } else {
    for (int64_t j = 0; j < len; ++j) power[j] = std::pow(scale[j], -s.beta);
  }
}

}  // namespace

void LrnForward(const LrnShape& s, const float* x, float* y) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  ForEachBlock(s, [&](int64_t offset, int64_t len) {
    double sum[kBlock];
    float scale[kBlock];
    float power[kBlock];
    StartWindow(s, x + offset, hw, len, sum);
    for (int c = 0; c < s.c; ++c) {
      SlideWindow(s, x + offset, c, hw, len, sum);
      ScaleAndPower(s, sum, len, scale, power);
      const float* xc = x + offset + c * hw;
      float* yc = y + offset + c * hw;
      for (int64_t j = 0; j < len; ++j) yc[j] = xc[j] * power[j];
    }
  });
}

void LrnBackward(const LrnShape& s, const float* x, const float* y, const float* dy, float* dx) {
  const int64_t hw = static_cast<int64_t>(s.h) * s.w;
  const int half = s.size / 2;
  const double coefficient = 2.0 * s.alpha * s.beta / s.size;
  ForEachBlock(s, [&](int64_t offset, int64_t len) {
    double sum[kBlock];
    float scale[kBlock];
    float power[kBlock];
    // ratios[t % size] holds dy_t * y_t / scale_t of the last `size` channels t (zero before
    // channel 0); ratio_sum is their running sum, in double for the reason given above.
    float ratios[kMaxSize][kBlock];
    double ratio_sum[kBlock];
    for (int i = 0; i < s.size; ++i) std::fill(ratios[i], ratios[i] + len, 0.0f);
    std::fill(ratio_sum, ratio_sum + len, 0.0);
    StartWindow(s, x + offset, hw, len, sum);
    // Step t computes the ratio of channel t and the first term of dx_t, then finishes dx of
    // channel t - half, whose window of ratios ends at channel t.
    for (int t = 0; t < s.c + half; ++t) {
      float* ring = ratios[t % s.size];
      if (t < s.c) {
        SlideWindow(s, x + offset, t, hw, len, sum);
        ScaleAndPower(s, sum, len, scale, power);
        const float* yt = y + offset + t * hw;
        const float* dyt = dy + offset + t * hw;
        float* dxt = dx + offset + t * hw;
        for (int64_t j = 0; j < len; ++j) {
          const float ratio = dyt[j] * yt[j] / scale[j];
          ratio_sum[j] += static_cast<double>(ratio) - ring[j];
          ring[j] = ratio;
          dxt[j] = dyt[j] * power[j];
        }
      } else {
        for (int64_t j = 0; j < len; ++j) ratio_sum[j] -= ring[j];
      }
      const int c = t - half;
      if (c >= 0) {
        const float* xc = x + offset + c * hw;
        float* dxc = dx + offset + c * hw;
        for (int64_t j = 0; j < len; ++j) {
          dxc[j] = static_cast<float>(dxc[j] - coefficient * xc[j] * ratio_sum[j]);
        }
      }
    }
  });
}

}  // namespace alexnet::cpu
