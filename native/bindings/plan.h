// What the plan handles (ConvPlan, LrnPlan, PoolPlan) share: registration under this
// environment's constructor, the argument check, and a dispose() that frees the plan's state only
// after the ops queued before it (core/executor.h), which hold the state while they run.
//
// A plan's State is the layer's shape and constants, and on a CUDA device its cuDNN descriptors.
// Ops capture a shared_ptr to it, so a disposed plan stays alive until its last queued op is done.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "core/args.h"
#include "core/environment.h"

namespace alexnet {

// Self names itself (kName, and kExpected for messages: "a ConvPlan") and its constructor slot in
// Environment (kConstructor).
template <typename Self, typename State>
class PlanHandle : public Napi::ObjectWrap<Self> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    using Method = void (Self::*)(const Napi::CallbackInfo&);
    Napi::Function cls = Napi::ObjectWrap<Self>::DefineClass(
        env, Self::kName,
        {Napi::ObjectWrap<Self>::InstanceMethod("dispose",
                                                static_cast<Method>(&PlanHandle::Dispose))});
    EnvironmentOf(env).*Self::kConstructor = Napi::Persistent(cls);
    exports.Set(Self::kName, cls);
  }

  // The state of the live plan passed as argument i, or a JS Error.
  static std::shared_ptr<State> Arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Value value = info[i];
    const Napi::FunctionReference& cls = EnvironmentOf(info.Env()).*Self::kConstructor;
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(cls.Value())) {
      throw Napi::TypeError::New(info.Env(),
                                 std::string("Expected ") + Self::kExpected + " for plan");
    }
    Self& plan = *Napi::ObjectWrap<Self>::Unwrap(value.As<Napi::Object>());
    if (!plan.state_) {
      throw Napi::Error::New(info.Env(), std::string(Self::kName) + " has been disposed");
    }
    return plan.state_;
  }

  // The plan's device, for Submit; a JS Error, as Arg, where argument i is not a live plan
  // (unwrapping another object as a plan reads it as one: UBSan found it for a tensor).
  static Device DeviceOf(const Napi::CallbackInfo& info, size_t i) {
    Arg(info, i);
    return Napi::ObjectWrap<Self>::Unwrap(info[i].As<Napi::Object>())->device_;
  }

 protected:
  explicit PlanHandle(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Self>(info), executor_(EnvironmentOf(info.Env()).executor) {}
  ~PlanHandle() override { Free(); }

  Device device_;
  std::shared_ptr<State> state_;

 private:
  void Dispose(const Napi::CallbackInfo&) { Free(); }
  void Free() {
    if (state_) executor_->Release(device_, [state = std::move(state_)] {});
  }

  std::shared_ptr<Executor> executor_;
};

}  // namespace alexnet
