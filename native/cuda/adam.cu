// The Adam / AdamW update of native/cpu/adam.h on a CUDA device, with the CPU's element and
// scalar code (cpu/adam.h), whose helpers round each operation on its own (__fmul_rn, __dmul_rn
// and friends, which nvcc never fuses into an FMA): the two backends give bitwise the same
// weights, moments and step counts, and the GPU check compares them exactly.
//
// The step count lives on the device (PyTorch's state["step"]), so that a guarded step that is
// skipped does not count without the host reading the loss. Every thread reads it; a second
// launch on the same stream then increments it, after every thread of the first has read it.
#include "cpu/adam.h"
#include "cuda/launch.cuh"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

template <bool kDecoupled, bool kSmallLerp>
__device__ void UpdateAll(float* w, const float* g, float* m, float* v, int64_t n,
                          const cpu::AdamScalars& k) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    cpu::AdamElement<kDecoupled, kSmallLerp>(w, g, m, v, i, k);
  }
}

__global__ void AdamKernel(float* w, const float* g, float* m, float* v, const float* step,
                           int64_t n, cpu::AdamSettings settings, const float* guard) {
  if (guard != nullptr && !isfinite(*guard)) return;
  const int64_t t = static_cast<int64_t>(__fadd_rn(*step, 1.0f));
  const cpu::AdamScalars k = cpu::ComputeAdamScalars(settings, t);
  // The same choice as cpu::AdamUpdate's, on the same float.
  const bool small_lerp = k.one_minus_beta1 < 0.5f;
  if (settings.decoupled) {
    if (small_lerp)
      UpdateAll<true, true>(w, g, m, v, n, k);
    else
      UpdateAll<true, false>(w, g, m, v, n, k);
  } else {
    if (small_lerp)
      UpdateAll<false, true>(w, g, m, v, n, k);
    else
      UpdateAll<false, false>(w, g, m, v, n, k);
  }
}

__global__ void AdamCountKernel(float* step, const float* guard) {
  if (guard != nullptr && !isfinite(*guard)) return;
  *step = __fadd_rn(*step, 1.0f);
}

}  // namespace

void AdamUpdate(int device, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                float* step, int64_t n, const cpu::AdamSettings& settings, const float* guard) {
  Context& ctx = GetContext(device);
  AdamKernel<<<GridFor(n), kBlock, 0, StreamOf(ctx)>>>(param, grad, exp_avg, exp_avg_sq, step, n,
                                                       settings, guard);
  CUDA_CHECK_LAUNCH("adamUpdate");
  AdamCountKernel<<<1, 1, 0, StreamOf(ctx)>>>(step, guard);
  CUDA_CHECK_LAUNCH("adamUpdate");
}

}  // namespace alexnet::cuda
