// reluForward(x, y): y = max(x, 0), in place when x and y are the same tensor.
// reluBackward(y, dy, dx): dx = dy where y > 0, else 0; dx may be dy.
// Shapes are checked by lib/ops/relu.ts.
#include "cpu/relu.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void ReluForward(const Napi::CallbackInfo& info) {
  const Tensor& x_tensor = UnwrapTensor(info.Env(), info[0], "x");
  const Device device = x_tensor.device();
  Submit(info, device,
         [device, x = x_tensor.data(), y = TensorData(info, 1, "y"), n = x_tensor.numel()] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) return cuda::ReluForward(device.index, x, y, n);
#endif
           cpu::ReluForward(x, y, n);
         });
}

void ReluBackward(const Napi::CallbackInfo& info) {
  const Tensor& y_tensor = UnwrapTensor(info.Env(), info[0], "y");
  const Device device = y_tensor.device();
  Submit(info, device,
         [device, y = y_tensor.data(), dy = TensorData(info, 1, "dy"),
          dx = TensorData(info, 2, "dx"), n = y_tensor.numel()] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda)
             return cuda::ReluBackward(device.index, y, dy, dx, n);
#endif
           cpu::ReluBackward(y, dy, dx, n);
         });
}

}  // namespace

void RegisterRelu(Napi::Env env, Napi::Object exports) {
  exports.Set("reluForward", Napi::Function::New<ReluForward>(env, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New<ReluBackward>(env, "reluBackward"));
}

}  // namespace alexnet
