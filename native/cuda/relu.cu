// ReLU on a CUDA device (Krizhevsky et al. 2012 §3.1), the same maps as native/cpu/relu.h.
#include "cuda/launch.cuh"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

// NaN propagates (x > 0 is false for NaN, and x != x keeps it), as on the CPU and in PyTorch.
__global__ void ReluForwardKernel(const float* x, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float v = x[i];
    y[i] = (v > 0.0f || v != v) ? v : 0.0f;
  }
}

__global__ void ReluBackwardKernel(const float* y, const float* dy, float* dx, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  }
}

}  // namespace

void ReluForward(int device, const float* x, float* y, int64_t count) {
  Context& ctx = GetContext(device);
  ReluForwardKernel<<<GridFor(count), kBlock, 0, StreamOf(ctx)>>>(x, y, count);
  CUDA_CHECK_LAUNCH("reluForward");
}

void ReluBackward(int device, const float* y, const float* dy, float* dx, int64_t count) {
  Context& ctx = GetContext(device);
  ReluBackwardKernel<<<GridFor(count), kBlock, 0, StreamOf(ctx)>>>(y, dy, dx, count);
  CUDA_CHECK_LAUNCH("reluBackward");
}

}  // namespace alexnet::cuda
