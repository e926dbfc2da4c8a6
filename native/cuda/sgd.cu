// The SGD-momentum update of native/cpu/sgd.h on a CUDA device, in the same operation order.
#include "cuda/launch.cuh"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

__global__ void SgdKernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                          float weight_decay, const float* guard) {
  if (guard != nullptr && !isfinite(*guard)) return;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float vi = momentum * v[i] + (g[i] + weight_decay * w[i]);
    v[i] = vi;
    w[i] -= lr * vi;
  }
}

}  // namespace

void SgdUpdate(int device, float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, float weight_decay, const float* guard) {
  Context& ctx = GetContext(device);
  SgdKernel<<<GridFor(n), kBlock, 0, StreamOf(ctx)>>>(param, grad, velocity, n, lr, momentum,
                                                      weight_decay, guard);
  CUDA_CHECK_LAUNCH("sgdUpdate");
}

}  // namespace alexnet::cuda
