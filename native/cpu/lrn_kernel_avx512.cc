// LRN row kernels for AVX-512F (compiled with -mavx512f -mfma): 16 floats a vector.
#include "cpu/lrn_kernel.h"

#define LRN_NS lrn_avx512
#define LRN_ISA "avx512"
#include "cpu/lrn_kernel.inc"
