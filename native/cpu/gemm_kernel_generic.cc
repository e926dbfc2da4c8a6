// GEMM micro-kernel for any CPU: 4 x 8 tile of 128-bit vectors (SSE2 / NEON width), for A operands
// of few rows too.
#include "cpu/gemm_kernel.h"

#define GEMM_NS gemm_generic
#define GEMM_ISA "generic"
#define MR 4
#define NR 8
#define VW 4
#define FEW_MR 4
#define FEW_NR 8
#include "cpu/gemm_kernel.inc"
