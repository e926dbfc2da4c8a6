// Helpers shared by the kernel files: the launch geometry of element-wise kernels and the check
// after each launch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/check.h"
#include "cuda/context.h"

namespace alexnet::cuda {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over `count` items: enough to fill the GPU, never more than
// needed.
inline unsigned int GridFor(int64_t count) {
  const int64_t blocks = (count + kBlock - 1) / kBlock;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 8)));
}

inline cudaStream_t StreamOf(Context& ctx) { return ctx.stream(); }

}  // namespace alexnet::cuda

// Checks the launch just made (bad configuration, no kernel image for this GPU).
#define CUDA_CHECK_LAUNCH(op) CUDA_CHECK(op, cudaGetLastError())
