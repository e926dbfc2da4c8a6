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
  const Tensor& x = UnwrapTensor(info.Env(), info[0], "x");
  float* y = TensorData(info, 1, "y");
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(x)) return cuda::ReluForward(x.device().index, x.data(), y, x.numel());
#endif
  cpu::ReluForward(x.data(), y, x.numel());
}

void ReluBackward(const Napi::CallbackInfo& info) {
  const Tensor& y = UnwrapTensor(info.Env(), info[0], "y");
  const float* dy = TensorData(info, 1, "dy");
  float* dx = TensorData(info, 2, "dx");
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(y)) return cuda::ReluBackward(y.device().index, y.data(), dy, dx, y.numel());
#endif
  cpu::ReluBackward(y.data(), dy, dx, y.numel());
}

}  // namespace

void RegisterRelu(Napi::Env env, Napi::Object exports) {
  exports.Set("reluForward", Napi::Function::New<ReluForward>(env, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New<ReluBackward>(env, "reluBackward"));
}

}  // namespace alexnet
