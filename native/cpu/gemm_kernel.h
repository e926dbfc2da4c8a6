// The interface between the GEMM driver (gemm.cc) and the per-ISA micro-kernels.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// Computes C[m_eff x n_eff] += A_strip * B_strip (= when not `accumulate`), where A_strip is
// packed MR x kc (kc steps of MR values) and B_strip is kc rows of NR values, ldb floats apart:
// NR when packed, B's own row stride when read in place.
using MicroKernelFn = void (*)(int kc, const float* a, const float* b, int64_t ldb, float* c,
                               int64_t ldc, int m_eff, int n_eff, bool accumulate);

// Computes C[m x n] += alpha * A B^T for row-major A (m x k) and B (n x k) without packing: the
// shape of a fully connected layer's forward pass at small batch, where packing the weights
// would cost more than the multiply.
using DotKernelFn = void (*)(int m, int n, int k, float alpha, const float* a, int64_t lda,
                             const float* b, int64_t ldb, float* c, int64_t ldc);

// Runs `iterations` steps of MR x NR / VW independent vector FMAs (MR x NR x 2 FLOP per step).
using FmaLoopFn = float (*)(int64_t iterations);

struct GemmKernel {
  const char* isa;
  int mr;
  int nr;
  MicroKernelFn micro;
  // The same over the first NR / 2 columns of the strip only: for a last strip at most half full.
  MicroKernelFn narrow;
  DotKernelFn dot;
  FmaLoopFn fma_loop;
};

namespace gemm_generic {
extern const GemmKernel kKernel;
}
#if defined(ALEXNET_GEMM_X86)
namespace gemm_avx2 {
extern const GemmKernel kKernel;
}
namespace gemm_avx512 {
extern const GemmKernel kKernel;
}
#endif

}  // namespace alexnet::cpu
