// GEMM micro-kernel for AVX2 + FMA (compiled with -mavx2 -mfma): a 6 x 16 tile keeps 12 of the
// 16 ymm registers as accumulators, the classic Haswell shape (BLIS haswell sgemm is 6 x 16).
#include "cpu/gemm_kernel.h"

#define GEMM_NS gemm_avx2
#define GEMM_ISA "avx2"
#define MR 6
#define NR 16
#define VW 8
#include "cpu/gemm_kernel.inc"
