// GEMM micro-kernel for AVX-512F (compiled with -mavx512f -mfma): a 12 x 32 tile keeps 24 of the
// 32 zmm registers as accumulators (BLIS skx sgemm uses the same 32 x 12 shape, transposed); so
// does the 8 x 48 tile for A operands of few rows, which fits 16 rows (batch 16) without padding.
#include "cpu/gemm_kernel.h"

#define GEMM_NS gemm_avx512
#define GEMM_ISA "avx512"
#define MR 12
#define NR 32
#define VW 16
#define FEW_MR 8
#define FEW_NR 48
#define GEMM_STREAM_STORE(c, v) __builtin_ia32_movntps512((c), (v))
#include "cpu/gemm_kernel.inc"
