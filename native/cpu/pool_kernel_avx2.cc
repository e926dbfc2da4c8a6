// Max pooling's row kernel for AVX2 (compiled with -mavx2): 8 floats a vector.
#include "cpu/pool_kernel.h"

#define POOL_NS pool_avx2
#define POOL_ISA "avx2"
#define VW 8
#include "cpu/pool_kernel.inc"
