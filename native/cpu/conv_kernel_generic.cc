// Direct convolution kernels for any CPU: blocks of 4 output channels in 128-bit vectors (SSE2 /
// NEON width), up to 6 pixels x 2 blocks = 12 accumulators, which x86-64's 16 registers hold;
// the backward-filter kernels keep up to 13 (channels x filter columns). No backward-data
// kernels by phases: with them conv1's pass took 1.4x the time of im2col + GEMM on one core
// (bench/RESULTS.md).
#include "cpu/conv_kernel.h"

#define CONV_NS conv_generic
#define CONV_ISA "generic"
#define VW 4
#define MAX_FILTER_ACCUMULATORS 13
#define MAX_WIDTH 6
#define PHASE_VECTORS 0
#include "cpu/conv_kernel.inc"
