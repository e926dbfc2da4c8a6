// Max pooling's row kernel for AVX-512F (compiled with -mavx512f): 16 floats a vector.
#include "cpu/pool_kernel.h"

#define POOL_NS pool_avx512
#define POOL_ISA "avx512"
#define VW 16
#include "cpu/pool_kernel.inc"
