// Per-channel bias on a CUDA device, over (n, c, spatial) as in native/cpu/bias.h.
#include "cuda/launch.cuh"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

__global__ void BiasForwardKernel(int64_t total, int64_t c, int64_t spatial, float* y,
                                  const float* b) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += b[(i / spatial) % c];
  }
}

// One block per channel j: its threads stride over the n * spatial values of j, then a tree
// reduction in shared memory.
__global__ void BiasBackwardKernel(int64_t n, int64_t c, int64_t spatial, const float* dy,
                                   float* db) {
  __shared__ float partial[kBlock];
  const int64_t j = blockIdx.x;
  float sum = 0.0f;
  for (int64_t idx = threadIdx.x; idx < n * spatial; idx += blockDim.x) {
    const int64_t i = idx / spatial;
    const int64_t s = idx - i * spatial;
    sum += dy[(i * c + j) * spatial + s];
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[j] = partial[0];
}

}  // namespace

void BiasForward(int device, int64_t n, int64_t c, int64_t spatial, float* y, const float* b) {
  Context& ctx = GetContext(device);
  const int64_t total = n * c * spatial;
  BiasForwardKernel<<<GridFor(total), kBlock, 0, StreamOf(ctx)>>>(total, c, spatial, y, b);
  CUDA_CHECK_LAUNCH("biasForward");
}

void BiasBackward(int device, int64_t n, int64_t c, int64_t spatial, const float* dy, float* db) {
  Context& ctx = GetContext(device);
  BiasBackwardKernel<<<static_cast<unsigned int>(c), kBlock, 0, StreamOf(ctx)>>>(n, c, spatial, dy,
                                                                                 db);
  CUDA_CHECK_LAUNCH("biasBackward");
}

}  // namespace alexnet::cuda
