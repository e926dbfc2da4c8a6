#include "cpu/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace alexnet::cpu {

// Built with -ffp-contract=off (cpu_exact in sources.json): a fused multiply-add would round
// differently from the separate multiply and add of the TypeScript this replaced.
void ResampleRgb(const uint8_t* src, int width, const AxisTaps& h, int out_width, const AxisTaps& v,
                 int out_height, uint8_t* out) {
  const int first_row = v.start[0];
  const int last_row = v.start[out_height - 1] + v.count[out_height - 1];
  const int64_t row_length = static_cast<int64_t>(out_width) * 3;
  std::vector<double> rows(static_cast<size_t>(last_row - first_row) * row_length);
  for (int y = first_row; y < last_row; ++y) {
    const uint8_t* in = src + static_cast<int64_t>(y) * width * 3;
    double* dst = rows.data() + (y - first_row) * row_length;
    for (int x = 0; x < out_width; ++x) {
      const double* w = h.weights + static_cast<int64_t>(x) * h.taps;
      const uint8_t* p = in + static_cast<int64_t>(h.start[x]) * 3;
      double r = 0, g = 0, b = 0;
      for (int k = 0; k < h.count[x]; ++k, p += 3) {
        r += w[k] * p[0];
        g += w[k] * p[1];
        b += w[k] * p[2];
      }
      dst[3 * x] = r;
      dst[3 * x + 1] = g;
      dst[3 * x + 2] = b;
    }
  }
  std::vector<double> acc(row_length);
  for (int y = 0; y < out_height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const double* w = v.weights + static_cast<int64_t>(y) * v.taps;
    for (int k = 0; k < v.count[y]; ++k) {
      const double* row = rows.data() + (v.start[y] + k - first_row) * row_length;
      for (int64_t j = 0; j < row_length; ++j) acc[j] += w[k] * row[j];
    }
    // std::round rounds halves away from zero, Math.round towards +infinity: they differ only
    // for negative halves, which the clamp makes 0 either way.
    uint8_t* dst = out + y * row_length;
    for (int64_t j = 0; j < row_length; ++j) {
      dst[j] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, std::round(acc[j]))));
    }
  }
}

}  // namespace alexnet::cpu
