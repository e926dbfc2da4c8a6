// GEMM micro-kernel for AVX2 + FMA (compiled with -mavx2 -mfma): a 6 x 16 tile keeps 12 of the
// 16 ymm registers as accumulators, the classic Haswell shape (BLIS haswell sgemm is 6 x 16); so
// does the 4 x 24 tile for A operands of few rows, which fits 16 rows (batch 16) without padding.
#include "cpu/gemm_kernel.h"

#define GEMM_NS gemm_avx2
#define GEMM_ISA "avx2"
#define MR 6
#define NR 16
#define VW 8
#define FEW_MR 4
#define FEW_NR 24
#define GEMM_STREAM_STORE(c, v) __builtin_ia32_movntps256((c), (v))
#include "cpu/gemm_kernel.inc"
