// PoolPlan(n, c, h, w, kernel, stride, pad, device): one max-pooling layer's shape.
// maxPoolForward(plan, x, y) and maxPoolBackward(plan, x, y, dy, dx) run it. Shapes and options
// are checked by lib/ops/pool.ts.
#include "cpu/pool.h"

#include <string>

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

Napi::FunctionReference* pool_plan_constructor = nullptr;

class PoolPlan : public Napi::ObjectWrap<PoolPlan> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls =
        DefineClass(env, "PoolPlan", {InstanceMethod<&PoolPlan::Dispose>("dispose")});
    pool_plan_constructor = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("PoolPlan", cls);
  }

  // The live plan behind argument i; a JS Error for anything else.
  static const PoolPlan& Arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Value value = info[i];
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(pool_plan_constructor->Value())) {
      throw Napi::TypeError::New(info.Env(), "Expected a PoolPlan for plan");
    }
    const PoolPlan& plan = *Unwrap(value.As<Napi::Object>());
    if (plan.disposed_) throw Napi::Error::New(info.Env(), "PoolPlan has been disposed");
    return plan;
  }

  explicit PoolPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PoolPlan>(info) {
    [[maybe_unused]] Device device =
        ParseDevice(info.Env(), info[7].As<Napi::String>().Utf8Value(), "PoolPlan");
    shape_ = cpu::MakePoolShape(IntArg(info, 0), IntArg(info, 1), IntArg(info, 2), IntArg(info, 3),
                                IntArg(info, 4), IntArg(info, 5), IntArg(info, 6));
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) cuda_ = cuda::CreatePoolState(device.index, shape_);
#endif
  }

#if defined(ALEXNET_WITH_CUDA)
  // The cuDNN state when the plan is on a CUDA device, else null.
  cuda::PoolState* cuda() const { return cuda_.get(); }
#endif
  const cpu::PoolShape& shape() const { return shape_; }

 private:
  void Dispose(const Napi::CallbackInfo& info) {
#if defined(ALEXNET_WITH_CUDA)
    cuda_.reset();
#endif
    disposed_ = true;
  }

  cpu::PoolShape shape_;
  bool disposed_ = false;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::PoolState> cuda_;
#endif
};

void MaxPoolForward(const Napi::CallbackInfo& info) {
  const PoolPlan& plan = PoolPlan::Arg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::MaxPoolForward(*plan.cuda(), TensorData(info, 1, "x"), TensorData(info, 2, "y"));
  }
#endif
  cpu::MaxPoolForward(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "y"));
}

void MaxPoolBackward(const Napi::CallbackInfo& info) {
  const PoolPlan& plan = PoolPlan::Arg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::MaxPoolBackward(*plan.cuda(), TensorData(info, 1, "x"), TensorData(info, 2, "y"),
                                 TensorData(info, 3, "dy"), TensorData(info, 4, "dx"));
  }
#endif
  cpu::MaxPoolBackward(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "y"),
                       TensorData(info, 3, "dy"), TensorData(info, 4, "dx"));
}

}  // namespace

void RegisterPool(Napi::Env env, Napi::Object exports) {
  PoolPlan::Register(env, exports);
  exports.Set("maxPoolForward", Napi::Function::New<MaxPoolForward>(env, "maxPoolForward"));
  exports.Set("maxPoolBackward", Napi::Function::New<MaxPoolBackward>(env, "maxPoolBackward"));
}

}  // namespace alexnet
