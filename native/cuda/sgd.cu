// The SGD-momentum update of native/cpu/sgd.h on a CUDA device. Every product and sum is rounded
// on its own (__fmul_rn / __fadd_rn / __fsub_rn, which nvcc never fuses into an FMA), in the order
// of native/cpu/sgd.cc, which is compiled without contraction: the two backends give bitwise the
// same weights and velocities, and the GPU check compares them exactly. With nvcc's default
// contraction, momentum * v + g' cancels differently from the CPU's and the results differ by
// far more than an ulp of the result (CUDA C++ Programming Guide, "Floating-Point Standard":
// "__fmul_rn and __fadd_rn ... are never merged into FMAD/FFMA").
#include "cuda/launch.cuh"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

__global__ void SgdKernel(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                          float weight_decay, const float* guard) {
  if (guard != nullptr && !isfinite(*guard)) return;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float decayed = __fadd_rn(g[i], __fmul_rn(weight_decay, w[i]));
    const float vi = __fadd_rn(__fmul_rn(momentum, v[i]), decayed);
    v[i] = vi;
    w[i] = __fsub_rn(w[i], __fmul_rn(lr, vi));
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
