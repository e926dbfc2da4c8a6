// adamUpdate(param, grad, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay, decoupled,
// guard?): one Adam (decoupled false) or AdamW (true) step in place on param, the two moments and
// the one-element step count, skipped when the guard tensor's first element is not finite.
// Shapes and hyper-parameters are checked by lib/ops/adam.ts.
#include "cpu/adam.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

// The hyper-parameters stay doubles: the scalars are computed from them in double, as PyTorch
// does with its Python floats (cpu/adam.h).
double DoubleArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}

void AdamUpdate(const Napi::CallbackInfo& info) {
  const Tensor& param_tensor = UnwrapTensor(info.Env(), info[0], "param");
  const Device device = param_tensor.device();
  const cpu::AdamSettings settings{DoubleArg(info, 5), DoubleArg(info, 6), DoubleArg(info, 7),
                                   DoubleArg(info, 8), DoubleArg(info, 9), BoolArg(info, 10)};
  const float* guard = info[11].IsUndefined() ? nullptr : TensorData(info, 11, "guard");
  Submit(info, device,
         [device, param = param_tensor.data(), grad = TensorData(info, 1, "grad"),
          exp_avg = TensorData(info, 2, "expAvg"), exp_avg_sq = TensorData(info, 3, "expAvgSq"),
          step = TensorData(info, 4, "step"), n = param_tensor.numel(), settings, guard] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::AdamUpdate(device.index, param, grad, exp_avg, exp_avg_sq, step, n,
                                     settings, guard);
           }
#endif
           cpu::AdamUpdate(param, grad, exp_avg, exp_avg_sq, step, n, settings, guard);
         });
}

}  // namespace

void RegisterAdam(Napi::Env env, Napi::Object exports) {
  exports.Set("adamUpdate", Napi::Function::New<AdamUpdate>(env, "adamUpdate"));
}

}  // namespace alexnet
