// sgdUpdate(param, grad, velocity, lr, momentum, weightDecay, guard?): one SGD-momentum step in
// place on param and velocity, skipped when the guard tensor's first element is not finite. Shapes
// and hyper-parameters are checked by lib/ops/sgd.ts.
#include "cpu/sgd.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void SgdUpdate(const Napi::CallbackInfo& info) {
  const Tensor& param_tensor = UnwrapTensor(info.Env(), info[0], "param");
  const Device device = param_tensor.device();
  const float* guard = info[6].IsUndefined() ? nullptr : TensorData(info, 6, "guard");
  Submit(info, device,
         [device, param = param_tensor.data(), grad = TensorData(info, 1, "grad"),
          velocity = TensorData(info, 2, "velocity"), n = param_tensor.numel(),
          lr = FloatArg(info, 3), momentum = FloatArg(info, 4), decay = FloatArg(info, 5), guard] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::SgdUpdate(device.index, param, grad, velocity, n, lr, momentum, decay,
                                    guard);
           }
#endif
           cpu::SgdUpdate(param, grad, velocity, n, lr, momentum, decay, guard);
         });
}

}  // namespace

void RegisterSgd(Napi::Env env, Napi::Object exports) {
  exports.Set("sgdUpdate", Napi::Function::New<SgdUpdate>(env, "sgdUpdate"));
}

}  // namespace alexnet
