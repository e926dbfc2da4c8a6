// PoolPlan(n, c, h, w, kernel, stride, pad, device): one max-pooling layer's shape.
// maxPoolForward(plan, x, y, keep) and maxPoolBackward(plan, x, y, dy, dx, kept) run it: on the
// CPU, a forward with keep stores each window's argmax in the plan (cpu::MaxPoolForwardArgmax),
// and a backward with kept reads it instead of searching x (lib/ops/pool.ts, keepArgmax, says
// when that is right). Shapes and options are checked by lib/ops/pool.ts.
#include "cpu/pool.h"

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "bindings/plan.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

struct PoolPlanState {
  PoolShape shape;
  // The last forward's argmax, on the CPU with keep; written and read on the executor thread.
  std::vector<uint8_t> argmax;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::PoolState> cuda;  // on a CUDA device
#endif
};

class PoolPlan : public PlanHandle<PoolPlan, PoolPlanState> {
 public:
  static constexpr const char* kName = "PoolPlan";
  static constexpr const char* kExpected = "a PoolPlan";
  static constexpr Napi::FunctionReference Environment::*kConstructor = &Environment::pool_plan;

  explicit PoolPlan(const Napi::CallbackInfo& info) : PlanHandle(info) {
    auto state = std::make_shared<PoolPlanState>();
    state->shape =
        cpu::MakePoolShape(IntArg(info, 0), IntArg(info, 1), IntArg(info, 2), IntArg(info, 3),
                           IntArg(info, 4), IntArg(info, 5), IntArg(info, 6));
    device_ = ParseDevice(info.Env(), info[7].As<Napi::String>().Utf8Value(), kName);
#if defined(ALEXNET_WITH_CUDA)
    if (device_.kind == DeviceKind::kCuda) {
      auto device_lock = LockDevice(device_);
      state->cuda = cuda::CreatePoolState(device_.index, state->shape);
    }
#endif
    state_ = std::move(state);
  }
};

void MaxPoolForward(const Napi::CallbackInfo& info) {
  Submit(info, PoolPlan::DeviceOf(info, 0),
         [plan = PoolPlan::Arg(info, 0), x = TensorData(info, 1, "x"), y = TensorData(info, 2, "y"),
          keep = info.Length() > 3 && BoolArg(info, 3)] {
#if defined(ALEXNET_WITH_CUDA)
           if (plan->cuda) return cuda::MaxPoolForward(*plan->cuda, x, y);
#endif
           const PoolShape& s = plan->shape;
           if (!keep || s.kernel * s.kernel >= cpu::kNoArgmax) {
             plan->argmax.clear();
             return cpu::MaxPoolForward(s, x, y);
           }
           plan->argmax.resize(static_cast<size_t>(s.n) * s.c * s.oh * s.ow);
           cpu::MaxPoolForwardArgmax(s, x, y, plan->argmax.data());
         });
}

void MaxPoolBackward(const Napi::CallbackInfo& info) {
  Submit(info, PoolPlan::DeviceOf(info, 0),
         [plan = PoolPlan::Arg(info, 0), x = TensorData(info, 1, "x"), y = TensorData(info, 2, "y"),
          dy = TensorData(info, 3, "dy"), dx = TensorData(info, 4, "dx"),
          kept = info.Length() > 5 && BoolArg(info, 5)] {
#if defined(ALEXNET_WITH_CUDA)
           if (plan->cuda) return cuda::MaxPoolBackward(*plan->cuda, x, y, dy, dx);
#endif
           if (kept && !plan->argmax.empty()) {
             return cpu::MaxPoolBackwardArgmax(plan->shape, plan->argmax.data(), dy, dx);
           }
           cpu::MaxPoolBackward(plan->shape, x, y, dy, dx);
         });
}

}  // namespace

void RegisterPool(Napi::Env env, Napi::Object exports) {
  PoolPlan::Register(env, exports);
  exports.Set("maxPoolForward", Napi::Function::New<MaxPoolForward>(env, "maxPoolForward"));
  exports.Set("maxPoolBackward", Napi::Function::New<MaxPoolBackward>(env, "maxPoolBackward"));
}

}  // namespace alexnet
