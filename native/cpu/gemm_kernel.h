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

// Computes C[m x n] += alpha * A Bᵀ for A (m <= 32 rows) packed transposed, at[p * lanes + i] with
// lanes = VW times a power of two, at least m (zero past m), and B row-major (n x k) read in
// place: a fully connected layer's forward at batch 8-32.
using BroadcastKernelFn = void (*)(int m, int n, int k, float alpha, const float* at, int lanes,
                                   const float* b, int64_t ldb, float* c, int64_t ldc);

// Runs `iterations` steps of MR x NR / VW independent vector FMAs (MR x NR x 2 FLOP per step).
using FmaLoopFn = float (*)(int64_t iterations);

struct GemmKernel {
  const char* isa;
  int mr;
  int nr;
  int vw;  // floats per vector
  MicroKernelFn micro;
  // The same, but a whole tile that overwrites C goes past the caches (non-temporal stores, where
  // the ISA has them): for a C written once and far larger than the caches (a fully connected
  // layer's weight gradient), whose lines then need not be read in before they are written. C's
  // tiles must be aligned to the vector width (VW floats).
  MicroKernelFn stream;
  // The same over the first NR / 2 columns of the strip only: for a last strip at most half full.
  MicroKernelFn narrow;
  // A tile of few_mr x few_nr for A operands of few rows (a fully connected layer's backward-data
  // at batch 16 is 16 rows: 8 x 48 wastes none of the FMAs that 12 x 32 spends on padding rows).
  int few_mr;
  int few_nr;
  MicroKernelFn few_rows;
  DotKernelFn dot;
  BroadcastKernelFn broadcast;
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
