// Max pooling's row kernel for any CPU: 4 floats a vector (SSE2's on x86-64).
#include "cpu/pool_kernel.h"

#define POOL_NS pool_generic
#define POOL_ISA "generic"
#define VW 4
#include "cpu/pool_kernel.inc"
