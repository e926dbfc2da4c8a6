// dropoutForward(x, y, p, seed, step, layer) and dropoutBackward(dy, dx, p, seed, step, layer):
// inverted dropout over the tensors' flat storage, the mask drawn from Philox. Shapes and key
// ranges are checked by lib/ops/dropout.ts.
#include "cpu/dropout.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

cpu::DropoutKey KeyArgs(const Napi::CallbackInfo& info) {
  return cpu::DropoutKey{FloatArg(info, 2), Uint32Arg(info, 3), Uint32Arg(info, 4),
                         Uint32Arg(info, 5)};
}

void DropoutForward(const Napi::CallbackInfo& info) {
  Tensor& x = UnwrapTensor(info.Env(), info[0], "x");
  float* y = TensorData(info, 1, "y");
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(x))
    return cuda::DropoutForward(x.device().index, x.data(), y, x.numel(), KeyArgs(info));
#endif
  cpu::DropoutForward(x.data(), y, x.numel(), KeyArgs(info));
}

void DropoutBackward(const Napi::CallbackInfo& info) {
  Tensor& dy = UnwrapTensor(info.Env(), info[0], "dy");
  float* dx = TensorData(info, 1, "dx");
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(dy)) {
    return cuda::DropoutBackward(dy.device().index, dy.data(), dx, dy.numel(), KeyArgs(info));
  }
#endif
  cpu::DropoutBackward(dy.data(), dx, dy.numel(), KeyArgs(info));
}

}  // namespace

void RegisterDropout(Napi::Env env, Napi::Object exports) {
  exports.Set("dropoutForward", Napi::Function::New<DropoutForward>(env, "dropoutForward"));
  exports.Set("dropoutBackward", Napi::Function::New<DropoutBackward>(env, "dropoutBackward"));
}

}  // namespace alexnet
