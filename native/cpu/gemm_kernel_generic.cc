// GEMM micro-kernel for any CPU: 4 x 8 tile of 128-bit vectors (SSE2 / NEON width).
#include "cpu/gemm_kernel.h"

#define GEMM_NS gemm_generic
#define GEMM_ISA "generic"
#define MR 4
#define NR 8
#define VW 4
#include "cpu/gemm_kernel.inc"
