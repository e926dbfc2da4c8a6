// Tensor.fill on a CUDA device.
#include "cuda/launch.cuh"
#include "cuda/memory.h"

namespace alexnet::cuda {

namespace {

__global__ void FillKernel(float* p, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    p[i] = value;
  }
}

}  // namespace

void Fill(int device, float* ptr, int64_t n, float value) {
  Context& ctx = GetContext(device);
  FillKernel<<<GridFor(n), kBlock, 0, StreamOf(ctx)>>>(ptr, n, value);
  CUDA_CHECK_LAUNCH("fill");
}

}  // namespace alexnet::cuda
