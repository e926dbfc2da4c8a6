// dropoutForward(x, y, p, seed, step, layer, offset) and dropoutBackward(dy, dx, ..., offset):
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

DropoutKey KeyArgs(const Napi::CallbackInfo& info) {
  return DropoutKey{FloatArg(info, 2), Uint32Arg(info, 3), Uint32Arg(info, 4), Uint32Arg(info, 5),
                    static_cast<uint64_t>(info[6].As<Napi::Number>().Int64Value())};
}

// Forward and backward apply the same mask: y = mask(x), dx = mask(dy).
void SubmitDropout(const Napi::CallbackInfo& info, bool backward) {
  const Tensor& in = UnwrapTensor(info.Env(), info[0], backward ? "dy" : "x");
  float* out = TensorData(info, 1, backward ? "dx" : "y");
  const Device device = in.device();
  Submit(info, device, [=, in = in.data(), n = in.numel(), key = KeyArgs(info)] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      return backward ? cuda::DropoutBackward(device.index, in, out, n, key)
                      : cuda::DropoutForward(device.index, in, out, n, key);
    }
#endif
    backward ? cpu::DropoutBackward(in, out, n, key) : cpu::DropoutForward(in, out, n, key);
  });
}

void DropoutForward(const Napi::CallbackInfo& info) { SubmitDropout(info, false); }

void DropoutBackward(const Napi::CallbackInfo& info) { SubmitDropout(info, true); }

}  // namespace

void RegisterDropout(Napi::Env env, Napi::Object exports) {
  exports.Set("dropoutForward", Napi::Function::New<DropoutForward>(env, "dropoutForward"));
  exports.Set("dropoutBackward", Napi::Function::New<DropoutBackward>(env, "dropoutBackward"));
}

}  // namespace alexnet
