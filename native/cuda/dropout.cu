// Inverted dropout on a CUDA device, with the masks of native/cpu/dropout.cc: the same Philox
// uniforms (core/philox.h, one call per group of four elements) and the same float scale, so the
// outputs are bitwise those of the CPU.
#include "core/philox.h"
#include "cuda/launch.cuh"
#include "cuda/memory.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

__global__ void DropoutKernel(const float* in, float* out, int64_t n, float p, float scale,
                              uint32_t seed, uint32_t step, uint32_t layer, int64_t offset) {
  // Groups of four mask elements, counted from the one holding the tensor's first element.
  const int64_t first = offset / 4;
  const int64_t groups = (offset + n + 3) / 4 - first;
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups;
       g += int64_t{gridDim.x} * blockDim.x) {
    float u[4];
    const int64_t group = first + g;
    PhiloxUniform4(seed, layer, step, static_cast<uint64_t>(group), u);
    const int64_t lo = max(group * 4, offset) - offset;
    const int64_t hi = min(group * 4 + 4, offset + n) - offset;
    for (int64_t i = lo; i < hi; ++i) {
      out[i] = u[(i + offset) & 3] >= p ? in[i] * scale : 0.0f;
    }
  }
}

void ApplyMask(int device, const float* in, float* out, int64_t n, const DropoutKey& key,
               const char* op) {
  if (key.p == 0.0f) {
    CopyOnDevice(device, out, in, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  // Computed in float on the host exactly as the CPU backend does (cpu/dropout.cc).
  const float scale = 1.0f / (1.0f - key.p);
  Context& ctx = GetContext(device);
  const int64_t offset = static_cast<int64_t>(key.offset);
  DropoutKernel<<<GridFor((offset + n + 3) / 4 - offset / 4), kBlock, 0, StreamOf(ctx)>>>(
      in, out, n, key.p, scale, key.seed, key.step, key.layer, offset);
  CUDA_CHECK_LAUNCH(op);
}

}  // namespace

void DropoutForward(int device, const float* x, float* y, int64_t n, const DropoutKey& key) {
  ApplyMask(device, x, y, n, key, "dropoutForward");
}

void DropoutBackward(int device, const float* dy, float* dx, int64_t n, const DropoutKey& key) {
  ApplyMask(device, dy, dx, n, key, "dropoutBackward");
}

}  // namespace alexnet::cuda
