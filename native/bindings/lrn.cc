// LrnPlan(n, c, h, w, size, alpha, beta, k, device): one LRN layer's shape and constants.
// lrnForward(plan, x, y) and lrnBackward(plan, x, y, dy, dx) run it. Shapes and options are
// checked by lib/ops/lrn.ts.
#include "cpu/lrn.h"

#include <string>

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

Napi::FunctionReference* lrn_plan_constructor = nullptr;

class LrnPlan : public Napi::ObjectWrap<LrnPlan> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls =
        DefineClass(env, "LrnPlan", {InstanceMethod<&LrnPlan::Dispose>("dispose")});
    lrn_plan_constructor = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("LrnPlan", cls);
  }

  // The live plan behind argument i; a JS Error for anything else.
  static const LrnPlan& Arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Value value = info[i];
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(lrn_plan_constructor->Value())) {
      throw Napi::TypeError::New(info.Env(), "Expected an LrnPlan for plan");
    }
    const LrnPlan& plan = *Unwrap(value.As<Napi::Object>());
    if (plan.disposed_) throw Napi::Error::New(info.Env(), "LrnPlan has been disposed");
    return plan;
  }

  explicit LrnPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LrnPlan>(info) {
    [[maybe_unused]] Device device =
        ParseDevice(info.Env(), info[8].As<Napi::String>().Utf8Value(), "LrnPlan");
    shape_.n = IntArg(info, 0);
    shape_.c = IntArg(info, 1);
    shape_.h = IntArg(info, 2);
    shape_.w = IntArg(info, 3);
    shape_.size = IntArg(info, 4);
    shape_.alpha = FloatArg(info, 5);
    shape_.beta = FloatArg(info, 6);
    shape_.k = FloatArg(info, 7);
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) cuda_ = cuda::CreateLrnState(device.index, shape_);
#endif
  }

#if defined(ALEXNET_WITH_CUDA)
  // The cuDNN state when the plan is on a CUDA device, else null.
  cuda::LrnState* cuda() const { return cuda_.get(); }
#endif
  const cpu::LrnShape& shape() const { return shape_; }

 private:
  void Dispose(const Napi::CallbackInfo& info) {
#if defined(ALEXNET_WITH_CUDA)
    cuda_.reset();
#endif
    disposed_ = true;
  }

  cpu::LrnShape shape_;
  bool disposed_ = false;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::LrnState> cuda_;
#endif
};

void LrnForward(const Napi::CallbackInfo& info) {
  const LrnPlan& plan = LrnPlan::Arg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::LrnForward(*plan.cuda(), TensorData(info, 1, "x"), TensorData(info, 2, "y"));
  }
#endif
  cpu::LrnForward(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "y"));
}

void LrnBackward(const Napi::CallbackInfo& info) {
  const LrnPlan& plan = LrnPlan::Arg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::LrnBackward(*plan.cuda(), TensorData(info, 1, "x"), TensorData(info, 2, "y"),
                             TensorData(info, 3, "dy"), TensorData(info, 4, "dx"));
  }
#endif
  cpu::LrnBackward(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "y"),
                   TensorData(info, 3, "dy"), TensorData(info, 4, "dx"));
}

}  // namespace

void RegisterLrn(Napi::Env env, Napi::Object exports) {
  LrnPlan::Register(env, exports);
  exports.Set("lrnForward", Napi::Function::New<LrnForward>(env, "lrnForward"));
  exports.Set("lrnBackward", Napi::Function::New<LrnBackward>(env, "lrnBackward"));
}

}  // namespace alexnet
