// Direct convolution kernels for AVX2 + FMA (compiled with -mavx2 -mfma): blocks of 8 output
// channels, up to 6 pixels x 2 blocks = 12 of the 16 ymm registers as accumulators; the
// backward-filter kernels keep up to 13 (channels x filter columns).
#include "cpu/conv_kernel.h"

#define CONV_NS conv_avx2
#define CONV_ISA "avx2"
#define VW 8
#define MAX_FILTER_ACCUMULATORS 13
#define MAX_WIDTH 6
#include "cpu/conv_kernel.inc"
