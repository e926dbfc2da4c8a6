// Direct convolution kernels for AVX-512F (compiled with -mavx512f -mfma): blocks of 16 output
// channels, up to 14 pixels x 2 blocks = 28 of the 32 zmm registers as accumulators, leaving two
// for the weights and one for a broadcast input; the backward-filter kernels keep up to 28
// (channels x filter columns), the backward-data kernels by phases 24 (3 channels x 8 vectors of
// pixels, beside the 3 channels' weights and a vector of dy).
#include "cpu/conv_kernel.h"

#define CONV_NS conv_avx512
#define CONV_ISA "avx512"
#define VW 16
#define MAX_FILTER_ACCUMULATORS 28
#define MAX_WIDTH 14
#define PHASE_VECTORS 8
#include "cpu/conv_kernel.inc"
