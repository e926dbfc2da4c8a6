// augment(images, count, height, width, out, crops, mirror, rgbShift, mean, scale, bgr): uint8
// HWC RGB images to the float NCHW crops in `out`. Sizes, offsets and array lengths are checked
// by lib/ops/augment.ts.
#include "cpu/augment.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void Augment(const Napi::CallbackInfo& info) {
  const Tensor& out = UnwrapTensor(info.Env(), info[4], "out");
  const Device device = out.device();
  // The host arrays are copied: JavaScript may reuse them before the op runs.
  Submit(info, device,
         [device, images = TypedArrayCopy<uint8_t>(info, 0), count = IntArg(info, 1),
          height = IntArg(info, 2), width = IntArg(info, 3), out_height = out.shape()[2],
          out_width = out.shape()[3], data = out.data(), crops = TypedArrayCopy<int32_t>(info, 5),
          mirror = TypedArrayCopy<uint8_t>(info, 6), rgb_shift = TypedArrayCopy<float>(info, 7),
          mean = TypedArrayCopy<float>(info, 8), scale = TypedArrayCopy<float>(info, 9),
          bgr = BoolArg(info, 10)] {
           const AugmentParams params{
               count,
               height,
               width,
               static_cast<int>(out_height),
               static_cast<int>(out_width),
               crops.data(),
               mirror.data(),
               rgb_shift.data(),
               mean.data(),
               scale.data(),
               bgr,
           };
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::Augment(device.index, images.data(), data, params);
           }
#endif
           cpu::Augment(images.data(), data, params);
         });
}

}  // namespace

void RegisterAugment(Napi::Env env, Napi::Object exports) {
  exports.Set("augment", Napi::Function::New<Augment>(env, "augment"));
}

}  // namespace alexnet
