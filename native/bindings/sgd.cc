// sgdUpdate(param, grad, velocity, lr, momentum, weightDecay): one SGD-momentum step in place on
// param and velocity. Shapes and hyper-parameters are checked by lib/ops/sgd.ts.
#include "cpu/sgd.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void SgdUpdate(const Napi::CallbackInfo& info) {
  Tensor& param = UnwrapTensor(info.Env(), info[0], "param");
  const float* grad = TensorData(info, 1, "grad");
  float* velocity = TensorData(info, 2, "velocity");
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(param)) {
    return cuda::SgdUpdate(param.device().index, param.data(), grad, velocity, param.numel(),
                           FloatArg(info, 3), FloatArg(info, 4), FloatArg(info, 5));
  }
#endif
  cpu::SgdUpdate(param.data(), grad, velocity, param.numel(), FloatArg(info, 3), FloatArg(info, 4),
                 FloatArg(info, 5));
}

}  // namespace

void RegisterSgd(Napi::Env env, Napi::Object exports) {
  exports.Set("sgdUpdate", Napi::Function::New<SgdUpdate>(env, "sgdUpdate"));
}

}  // namespace alexnet
