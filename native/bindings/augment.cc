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
  const uint8_t* images = TypedArrayData<uint8_t>(info, 0);
  Tensor& out = UnwrapTensor(info.Env(), info[4], "out");
  cpu::AugmentParams params{
      IntArg(info, 1),
      IntArg(info, 2),
      IntArg(info, 3),
      static_cast<int>(out.shape()[2]),
      static_cast<int>(out.shape()[3]),
      TypedArrayData<int32_t>(info, 5),
      TypedArrayData<uint8_t>(info, 6),
      TypedArrayData<float>(info, 7),
      TypedArrayData<float>(info, 8),
      TypedArrayData<float>(info, 9),
      BoolArg(info, 10),
  };
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(out)) return cuda::Augment(out.device().index, images, out.data(), params);
#endif
  cpu::Augment(images, out.data(), params);
}

}  // namespace

void RegisterAugment(Napi::Env env, Napi::Object exports) {
  exports.Set("augment", Napi::Function::New<Augment>(env, "augment"));
}

}  // namespace alexnet
