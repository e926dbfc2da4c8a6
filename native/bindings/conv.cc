// ConvPlan(n, c, h, w, k, kh, kw, strideH, strideW, padH, padW, groups, device) and
// conv2dForward / conv2dBackwardData / conv2dBackwardFilter(plan, inputs..., output). The plan
// holds the shape and, on the CPU, the im2col scratch, allocated once; on a CUDA device, the cuDNN
// descriptors and chosen algorithms (native/cuda/conv.cc). lib/ops/conv.ts checks the shapes.
#include "cpu/conv.h"

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

Napi::FunctionReference* conv_plan_constructor = nullptr;

class ConvPlan : public Napi::ObjectWrap<ConvPlan> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function cls =
        DefineClass(env, "ConvPlan", {InstanceMethod<&ConvPlan::Dispose>("dispose")});
    conv_plan_constructor = new Napi::FunctionReference(Napi::Persistent(cls));
    exports.Set("ConvPlan", cls);
  }

  // The live plan passed as argument i, or a JS Error.
  static ConvPlan& FromArg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Value value = info[i];
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(conv_plan_constructor->Value())) {
      throw Napi::TypeError::New(info.Env(), "Expected a ConvPlan for plan");
    }
    ConvPlan& plan = *Unwrap(value.As<Napi::Object>());
    if (plan.disposed_) throw Napi::Error::New(info.Env(), "ConvPlan has been disposed");
    return plan;
  }

  explicit ConvPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ConvPlan>(info) {
    shape_ = {IntArg(info, 0), IntArg(info, 1), IntArg(info, 2),  IntArg(info, 3),
              IntArg(info, 4), IntArg(info, 5), IntArg(info, 6),  IntArg(info, 7),
              IntArg(info, 8), IntArg(info, 9), IntArg(info, 10), IntArg(info, 11)};
    [[maybe_unused]] Device device =
        ParseDevice(info.Env(), info[12].As<Napi::String>().Utf8Value(), "ConvPlan");
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      cuda_ = cuda::CreateConvState(device.index, shape_);
      return;
    }
#endif
    scratch_.resize(static_cast<size_t>(cpu::ConvScratchSize(shape_)));
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), ScratchBytes());
  }

  const cpu::ConvShape& shape() const { return shape_; }
  float* scratch() { return scratch_.data(); }
#if defined(ALEXNET_WITH_CUDA)
  // The cuDNN state when the plan is on a CUDA device, else null.
  cuda::ConvState* cuda() const { return cuda_.get(); }
#endif

 private:
  int64_t ScratchBytes() const { return static_cast<int64_t>(scratch_.size() * sizeof(float)); }

  void Dispose(const Napi::CallbackInfo& info) {
    if (disposed_) return;
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -ScratchBytes());
    std::vector<float>().swap(scratch_);
#if defined(ALEXNET_WITH_CUDA)
    cuda_.reset();
#endif
    disposed_ = true;
  }

  cpu::ConvShape shape_;
  std::vector<float> scratch_;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::ConvState> cuda_;
#endif
  bool disposed_ = false;
};

void Conv2dForward(const Napi::CallbackInfo& info) {
  ConvPlan& plan = ConvPlan::FromArg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::ConvForward(*plan.cuda(), TensorData(info, 1, "x"), TensorData(info, 2, "w"),
                             TensorData(info, 3, "y"));
  }
#endif
  cpu::ConvForward(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "w"),
                   TensorData(info, 3, "y"), plan.scratch());
}

void Conv2dBackwardData(const Napi::CallbackInfo& info) {
  ConvPlan& plan = ConvPlan::FromArg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::ConvBackwardData(*plan.cuda(), TensorData(info, 1, "w"), TensorData(info, 2, "dy"),
                                  TensorData(info, 3, "dx"));
  }
#endif
  cpu::ConvBackwardData(plan.shape(), TensorData(info, 1, "w"), TensorData(info, 2, "dy"),
                        TensorData(info, 3, "dx"), plan.scratch());
}

void Conv2dBackwardFilter(const Napi::CallbackInfo& info) {
  ConvPlan& plan = ConvPlan::FromArg(info, 0);
#if defined(ALEXNET_WITH_CUDA)
  if (plan.cuda()) {
    return cuda::ConvBackwardFilter(*plan.cuda(), TensorData(info, 1, "x"),
                                    TensorData(info, 2, "dy"), TensorData(info, 3, "dw"));
  }
#endif
  cpu::ConvBackwardFilter(plan.shape(), TensorData(info, 1, "x"), TensorData(info, 2, "dy"),
                          TensorData(info, 3, "dw"), plan.scratch());
}

}  // namespace

void RegisterConv(Napi::Env env, Napi::Object exports) {
  ConvPlan::Register(env, exports);
  exports.Set("conv2dForward", Napi::Function::New<Conv2dForward>(env, "conv2dForward"));
  exports.Set("conv2dBackwardData",
              Napi::Function::New<Conv2dBackwardData>(env, "conv2dBackwardData"));
  exports.Set("conv2dBackwardFilter",
              Napi::Function::New<Conv2dBackwardFilter>(env, "conv2dBackwardFilter"));
}

}  // namespace alexnet
