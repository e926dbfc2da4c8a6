// Direct convolution kernels for AVX2 + FMA (compiled with -mavx2 -mfma): blocks of 8 output
// channels, up to 6 pixels x 2 blocks = 12 of the 16 ymm registers as accumulators, with the
// kernels of pieces that run on into the next output row (ConvKernel::wrapped), so that every
// piece of a stride-1 plane can keep 12: a 13-pixel row cut into 5 + 4 + 4 kept 8 to 10 and ran
// conv3-conv5 at 74-78% of the one-thread peak (bench/RESULTS.md); and their twins for the
// pieces with taps in the zero border, which skip those (ConvKernel::wrapped_edge). The
// backward-filter kernels keep up to 13 (channels x filter columns), the backward-data kernels by
// phases 12 (3 channels x 4 vectors of pixels; 3 vectors took 3% longer on conv1).
#include "cpu/conv_kernel.h"

#define CONV_NS conv_avx2
#define CONV_ISA "avx2"
#define VW 8
#define MAX_FILTER_ACCUMULATORS 13
#define MAX_WIDTH 6
#define PHASE_VECTORS 4
#define WRAPPED_ROWS
#include "cpu/conv_kernel.inc"
