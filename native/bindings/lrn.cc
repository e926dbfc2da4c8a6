// LrnPlan(n, c, h, w, size, alpha, beta, k, device): one LRN layer's shape and constants.
// lrnForward(plan, x, y) and lrnBackward(plan, x, y, dy, dx) run it; on the CPU,
// lrnMaxPoolForward(plan, x, y, kernel, stride, pad) runs it with the max pooling after it
// (cpu::LrnMaxPoolForward). Shapes and options are checked by lib/ops/lrn.ts.
#include "cpu/lrn.h"

#include <string>

#include "bindings/bindings.h"
#include "bindings/plan.h"
#include "core/args.h"
#include "cpu/pool.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

struct LrnPlanState {
  LrnShape shape;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::LrnState> cuda;  // on a CUDA device
#endif
};

class LrnPlan : public PlanHandle<LrnPlan, LrnPlanState> {
 public:
  static constexpr const char* kName = "LrnPlan";
  static constexpr const char* kExpected = "an LrnPlan";
  static constexpr Napi::FunctionReference Environment::*kConstructor = &Environment::lrn_plan;

  explicit LrnPlan(const Napi::CallbackInfo& info) : PlanHandle(info) {
    auto state = std::make_shared<LrnPlanState>();
    LrnShape& shape = state->shape;
    shape.n = IntArg(info, 0);
    shape.c = IntArg(info, 1);
    shape.h = IntArg(info, 2);
    shape.w = IntArg(info, 3);
    shape.size = IntArg(info, 4);
    shape.alpha = FloatArg(info, 5);
    shape.beta = FloatArg(info, 6);
    shape.k = FloatArg(info, 7);
    device_ = ParseDevice(info.Env(), info[8].As<Napi::String>().Utf8Value(), kName);
#if defined(ALEXNET_WITH_CUDA)
    if (device_.kind == DeviceKind::kCuda) {
      auto device_lock = LockDevice(device_);
      state->cuda = cuda::CreateLrnState(device_.index, shape);
    }
#endif
    state_ = std::move(state);
  }
};

void LrnForward(const Napi::CallbackInfo& info) {
  Submit(
      info, LrnPlan::DeviceOf(info, 0),
      [plan = LrnPlan::Arg(info, 0), x = TensorData(info, 1, "x"), y = TensorData(info, 2, "y")] {
#if defined(ALEXNET_WITH_CUDA)
        if (plan->cuda) return cuda::LrnForward(*plan->cuda, x, y);
#endif
        cpu::LrnForward(plan->shape, x, y);
      });
}

void LrnMaxPoolForward(const Napi::CallbackInfo& info) {
  Submit(info, LrnPlan::DeviceOf(info, 0),
         [plan = LrnPlan::Arg(info, 0), x = TensorData(info, 1, "x"), y = TensorData(info, 2, "y"),
          kernel = IntArg(info, 3), stride = IntArg(info, 4), pad = IntArg(info, 5)] {
           const LrnShape& s = plan->shape;
           cpu::LrnMaxPoolForward(s, cpu::MakePoolShape(s.n, s.c, s.h, s.w, kernel, stride, pad), x,
                                  y);
         });
}

void LrnBackward(const Napi::CallbackInfo& info) {
  Submit(info, LrnPlan::DeviceOf(info, 0),
         [plan = LrnPlan::Arg(info, 0), x = TensorData(info, 1, "x"), y = TensorData(info, 2, "y"),
          dy = TensorData(info, 3, "dy"), dx = TensorData(info, 4, "dx")] {
#if defined(ALEXNET_WITH_CUDA)
           if (plan->cuda) return cuda::LrnBackward(*plan->cuda, x, y, dy, dx);
#endif
           cpu::LrnBackward(plan->shape, x, y, dy, dx);
         });
}

}  // namespace

void RegisterLrn(Napi::Env env, Napi::Object exports) {
  LrnPlan::Register(env, exports);
  exports.Set("lrnForward", Napi::Function::New<LrnForward>(env, "lrnForward"));
  exports.Set("lrnMaxPoolForward",
              Napi::Function::New<LrnMaxPoolForward>(env, "lrnMaxPoolForward"));
  exports.Set("lrnBackward", Napi::Function::New<LrnBackward>(env, "lrnBackward"));
}

}  // namespace alexnet
