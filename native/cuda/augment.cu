// The fused batch augmentation of native/cpu/augment.h on a CUDA device: the uint8 images and
// the per-image choices are uploaded into the staging buffer in one pass, then one thread per
// output element computes (pixel + shift - mean) * scale, in the CPU's operation order, so the
// two backends agree bitwise.
#include "cuda/launch.cuh"
#include "cuda/memory.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

struct DeviceAugment {
  int count, height, width, out_height, out_width;
  bool bgr;
  const uint8_t* images;
  const int32_t* crops;
  const uint8_t* mirror;
  const float* rgb_shift;
  const float* mean;
  const float* scale;
};

__global__ void AugmentKernel(DeviceAugment p, float* out) {
  const int64_t plane = int64_t{p.out_height} * p.out_width;
  const int64_t total = int64_t{p.count} * 3 * plane;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int x = static_cast<int>(idx % p.out_width);
    const int y = static_cast<int>(idx / p.out_width % p.out_height);
    const int oc = static_cast<int>(idx / plane % 3);
    const int i = static_cast<int>(idx / (3 * plane));
    const int c = p.bgr ? 2 - oc : oc;
    const int sy = p.crops[2 * i] + y;
    const int sx = p.mirror[i] ? p.crops[2 * i + 1] + p.out_width - 1 - x : p.crops[2 * i + 1] + x;
    const uint8_t pixel = p.images[((int64_t{i} * p.height + sy) * p.width + sx) * 3 + c];
    out[idx] = (static_cast<float>(pixel) + p.rgb_shift[3 * i + c] - p.mean[c]) * p.scale[c];
  }
}

size_t Aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

void Augment(int device, const uint8_t* host_images, float* out, const AugmentParams& params) {
  Context& ctx = GetContext(device);
  const size_t n = static_cast<size_t>(params.count);
  const size_t image_bytes = n * params.height * params.width * 3;
  const size_t sizes[] = {
      Aligned(image_bytes),           Aligned(2 * n * sizeof(int32_t)), Aligned(n),
      Aligned(3 * n * sizeof(float)), Aligned(3 * sizeof(float)),       Aligned(3 * sizeof(float))};
  size_t total = 0;
  for (size_t s : sizes) total += s;
  char* staging = static_cast<char*>(ctx.Staging(total));
  const void* sources[] = {host_images,      params.crops, params.mirror,
                           params.rgb_shift, params.mean,  params.scale};
  const size_t bytes[] = {image_bytes,           2 * n * sizeof(int32_t), n,
                          3 * n * sizeof(float), 3 * sizeof(float),       3 * sizeof(float)};
  char* parts[6];
  size_t offset = 0;
  for (int k = 0; k < 6; ++k) {
    parts[k] = staging + offset;
    CopyToDevice(device, parts[k], sources[k], bytes[k]);
    offset += sizes[k];
  }
  DeviceAugment p{params.count,
                  params.height,
                  params.width,
                  params.out_height,
                  params.out_width,
                  params.bgr,
                  reinterpret_cast<const uint8_t*>(parts[0]),
                  reinterpret_cast<const int32_t*>(parts[1]),
                  reinterpret_cast<const uint8_t*>(parts[2]),
                  reinterpret_cast<const float*>(parts[3]),
                  reinterpret_cast<const float*>(parts[4]),
                  reinterpret_cast<const float*>(parts[5])};
  const int64_t outputs = int64_t{params.count} * 3 * params.out_height * params.out_width;
  AugmentKernel<<<GridFor(outputs), kBlock, 0, StreamOf(ctx)>>>(p, out);
  CUDA_CHECK_LAUNCH("augment");
}

}  // namespace alexnet::cuda
