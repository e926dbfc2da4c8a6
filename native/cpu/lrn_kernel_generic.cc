// LRN row kernels for any CPU: whatever vectors the baseline target has (SSE2's 4 floats on
// x86-64).
#include "cpu/lrn_kernel.h"

#define LRN_NS lrn_generic
#define LRN_ISA "generic"
#include "cpu/lrn_kernel.inc"
