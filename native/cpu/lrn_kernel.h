// The interface between LRN's driver (lrn.cc) and its per-ISA row kernels (lrn_kernel.inc,
// compiled once per instruction set like the GEMM's and the direct convolution's, so that the
// window sums and the square roots run 16 wide with AVX-512, 8 with AVX2 and 4 on any CPU).
//
// A row is `len` consecutive positions of one channel of one image. A window is the `size` rows
// of channels c - size/2 .. c + size/2 in that order, a row of zeros standing for each channel
// outside [0, C), so that every window, clipped or not, is summed by the same unrolled loop
// (adding +0 changes no sum).
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// scale = k + alpha_over_size * (sum of the window's squares), raised to the power -beta.
struct LrnConstants {
  float k;
  float alpha_over_size;
  float beta;
};

// y = x_c * scale_c^(-beta), where x_c is the window's middle row.
using LrnForwardFn = void (*)(const float* const* window, int64_t len, const LrnConstants& p,
                              float* y);

// The window's scale from x, then ratio = dy * y / scale and first = dy * scale^(-beta), the
// terms of channel c's gradient: ratio is summed over the windows that hold c, first is dx_c's
// own term.
using LrnRatioFn = void (*)(const float* const* window, const float* y, const float* dy,
                            int64_t len, const LrnConstants& p, float* ratio, float* first);

// dx = first - coefficient * x * (sum of the window's ratios).
using LrnGradientFn = void (*)(const float* const* ratios, const float* first, const float* x,
                               int64_t len, float coefficient, float* dx);

struct LrnKernel {
  // Window sizes 1, 3, ..., 15 (lib/ops/lrn.ts's range); entry size / 2 has that size.
  static constexpr int kSizes = 8;
  const char* isa;
  LrnForwardFn forward[kSizes];
  LrnRatioFn ratio[kSizes];
  LrnGradientFn gradient[kSizes];
};

namespace lrn_generic {
extern const LrnKernel kKernel;
}
#if defined(ALEXNET_GEMM_X86)
namespace lrn_avx2 {
extern const LrnKernel kKernel;
}
namespace lrn_avx512 {
extern const LrnKernel kKernel;
}
#endif

}  // namespace alexnet::cpu
