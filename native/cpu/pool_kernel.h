// The interface between max pooling's driver (pool.cc) and its per-ISA row kernel for AlexNet's
// overlapping pooling, 3x3 windows moved by 2 without padding (Krizhevsky et al. 2012 §3.4),
// compiled once per instruction set like the LRN's (pool_kernel.inc), so that an output row is
// taken 16 windows at a time with AVX-512, 8 with AVX2 and 4 on any CPU.
#pragma once

namespace alexnet::cpu {

// One output row of a 3x3, stride-2, unpadded max pooling: y[ox] for ox < ow = (w - 3) / 2 + 1,
// the maximum of rows[0..2][2 ox .. 2 ox + 2]. Each column's maximum is folded from -infinity
// down the three rows, then each window's from -infinity across its three columns, with
// std::max's rule (the later value where the earlier is less), as MaxPoolForward's scan does:
// so a NaN is passed over and of two zeros the first is kept, bit for bit the same y. `scratch`
// holds PoolKernel::ScratchFloats(w) floats, those past w set by the caller (the last vector of
// windows reads them; its windows there are never stored).
using PoolRowFn = void (*)(const float* const* rows, int w, float* scratch, float* y);

struct PoolKernel {
  const char* isa;
  int vw;  // floats per vector
  PoolRowFn max3x3_stride2;
  // The column maxima of a row and room for the last windows' whole vectors past its end.
  int ScratchFloats(int w) const { return w + 2 * vw + 2; }
};

namespace pool_generic {
extern const PoolKernel kKernel;
}
#if defined(ALEXNET_GEMM_X86)
namespace pool_avx2 {
extern const PoolKernel kKernel;
}
namespace pool_avx512 {
extern const PoolKernel kKernel;
}
#endif

}  // namespace alexnet::cpu
