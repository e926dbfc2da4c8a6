// LRN row kernels for AVX2 + FMA (compiled with -mavx2 -mfma): 8 floats a vector, and each
// square added to its window sum by one fused multiply-add.
#include "cpu/lrn_kernel.h"

#define LRN_NS lrn_avx2
#define LRN_ISA "avx2"
#include "cpu/lrn_kernel.inc"
